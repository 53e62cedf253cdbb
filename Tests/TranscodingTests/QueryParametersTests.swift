import Testing
import Transcoding

private typealias M = HTTPRuleFixtures.Method

@Suite struct QueryParametersTests {
    let table: HTTPRouteTable

    init() throws {
        table = try HTTPRuleFixtures.table([
            M("Library", "ListBooks", "ListBooksRequest", "ListBooksResponse", HTTPRule(
                method: "GET", pattern: "/v1/{parent=shelves/*}/books")),
            M("Library", "CreateBook", "CreateBookRequest", "Book", HTTPRule(
                method: "POST", pattern: "/v1/{parent=shelves/*}/books", body: "book")),
            M("Library", "UpdateBook", "UpdateBookRequest", "Book", HTTPRule(
                method: "PATCH", pattern: "/v1/{book.name=shelves/*/books/*}", body: "book")),
            M("Library", "ArchiveBook", "GetBookRequest", "Book", HTTPRule(
                method: "POST", pattern: "/v1/{name=shelves/*/books/*}:archive", body: "*")),
            M("Library", "GetResource", "GetResourceRequest", "Book", HTTPRule(
                method: "GET", pattern: "/v1/{book.name=books/*}")),
        ])
    }

    /// The parameters `query` sets for the binding `method path` matches, as `field.path=value`.
    func parameters(_ method: String, _ path: String, _ query: String) throws -> [String] {
        let match = try #require(table.match(method: method, path: path[...]).bindingMatch)
        return try table.queryParameters(query[...], for: match).map { parameter in
            parameter.path.map(\.name).joined(separator: ".") + (parameter.mapKey.map { "[\($0)]" } ?? "") + "=" + parameter.value
        }
    }

    static let list: [(query: String, result: [String])] = [
        ("", []),
        ("page_size=10", ["page_size=10"]),
        ("pageSize=10&page_token=abc", ["page_size=10", "page_token=abc"]),  // JSON or proto names
        ("tags=a&tags=b&tags=a", ["tags=a", "tags=b", "tags=a"]),  // a repeated leaf, once per value
        ("ids=1&ids=2", ["ids=1", "ids=2"]),
        ("filter.author=Ann&filter.pages.min=3&filter.pages.max=9",
         ["filter.author=Ann", "filter.pages.min=3", "filter.pages.max=9"]),  // nested messages
        ("read_mask=title,author.name", ["read_mask=title,author.name"]),  // a FieldMask takes the whole text
        ("readMask=title%2Cauthor", ["read_mask=title,author"]),
        ("genre=FICTION", ["genre=FICTION"]),  // enums by name
        ("min_pages=3&since=2024-01-01T00:00:00Z", ["min_pages=3", "since=2024-01-01T00:00:00Z"]),  // WKT leaves
        ("cursor=AAEC%2B%2F", ["cursor=AAEC+/"]),
        ("page_token=a+b%20c%2B%26%3D", ["page_token=a b c+&="]),  // `+` is a space, then %XX
        ("page_token=a=b", ["page_token=a=b"]),  // only the first `=` separates
        ("page%5Fsize=1", ["page_size=1"]),  // keys are decoded too
        ("include_deleted", ["include_deleted="]),  // no `=`: the empty value
        ("include_deleted=", ["include_deleted="]),
        ("&&page_size=1&&", ["page_size=1"]),  // empty parameters are skipped
        ("filter.author=caf%C3%A9", ["filter.author=café"]),
        ("parent=shelves/other", []),  // the path binds parent: the path wins
        ("parent=x&page_size=2", ["page_size=2"]),
        ("labels[env]=prod&labels[tier]=web", ["labels[env]=prod", "labels[tier]=web"]),  // map entries
        ("labels%5Bk%5D=v&labels[]=empty", ["labels[k]=v", "labels[]=empty"]),  // decoded first; an empty key is a key
    ]

    @Test(arguments: list)
    func listBooks(_ query: String, _ expected: [String]) throws {
        #expect(try parameters("GET", "/v1/shelves/s1/books", query) == expected)
    }

    static let errors: [(query: String, error: String)] = [
        ("foo=1", #"unknown query parameter "foo" for trestle.test.v1.ListBooksRequest"#),
        ("page_size=1&foo", #"unknown query parameter "foo" for trestle.test.v1.ListBooksRequest"#),
        ("filter.nope=1", #"unknown query parameter "filter.nope" for trestle.test.v1.ListBooksRequest"#),
        ("filter..author=1", #"unknown query parameter "filter..author" for trestle.test.v1.ListBooksRequest"#),
        ("=1", #"unknown query parameter "" for trestle.test.v1.ListBooksRequest"#),
        ("PageSize=1", #"unknown query parameter "PageSize" for trestle.test.v1.ListBooksRequest"#),
        ("filter=x", #"query parameter "filter" names a message (trestle.test.v1.Filter), not a value; set its fields as "filter.<field>""#),
        ("filter.pages=x", #"query parameter "filter.pages" names a message (trestle.test.v1.Range), not a value; set its fields as "filter.pages.<field>""#),
        ("books=x", #"query parameter "books" names a message (trestle.test.v1.Book), not a value; set its fields as "books.<field>""#),
        ("extra=x", #"query parameter "extra" names a message (google.protobuf.Struct), not a value; set its fields as "extra.<field>""#),
        ("labels=x", #"query parameter "labels": trestle.test.v1.ListBooksRequest.labels is a map; set one entry per parameter as "labels[key]=value""#),
        ("labels.key=x", #"query parameter "labels.key": trestle.test.v1.ListBooksRequest.labels is a map; set one entry per parameter as "labels[key]=value""#),
        ("labels[a]=1&labels[a]=2", #"query parameter "labels[a]" is given more than once (one value per map key)"#),
        ("page_size[a]=1", #"query parameter "page_size[a]": trestle.test.v1.ListBooksRequest.page_size is not a map ("name[key]=value" sets a map entry)"#),
        ("nope[a]=1", #"unknown query parameter "nope[a]" for trestle.test.v1.ListBooksRequest"#),
        ("labels[a[b]]=x", #"unknown query parameter "labels[a[b]]" for trestle.test.v1.ListBooksRequest"#),  // the last `[` opens the key
        ("books.title=x", #"query parameter "books.title": trestle.test.v1.ListBooksRequest.books is repeated, and query parameters cannot set fields inside a repeated message"#),
        ("filter.examples.title=x", #"query parameter "filter.examples.title": trestle.test.v1.Filter.examples is repeated, and query parameters cannot set fields inside a repeated message"#),
        ("page_size.x=1", #"query parameter "page_size.x": trestle.test.v1.ListBooksRequest.page_size is not a message"#),
        ("page_size=1&pageSize=2", #"query parameter "pageSize" is given more than once, but trestle.test.v1.ListBooksRequest.page_size is not repeated"#),
        ("filter.pages.min=1&filter.pages.min=2", #"query parameter "filter.pages.min" is given more than once, but trestle.test.v1.Range.min is not repeated"#),
        ("page_token=%zz", #"invalid percent-encoding in the value of query parameter "page_token""#),
        ("page_token=abc%2", #"invalid percent-encoding in the value of query parameter "page_token""#),
        ("page_token=%FF", #"the value of query parameter "page_token" is not UTF-8 once percent-decoded"#),
        ("%zz=1", #"invalid percent-encoding in query parameter name "%zz""#),
        ("%C3=1", #"query parameter name "%C3" is not UTF-8 once percent-decoded"#),
    ]

    @Test(arguments: errors)
    func listBooksRejects(_ query: String, _ expected: String) throws {
        let match = try #require(table.match(method: "GET", path: "/v1/shelves/s1/books").bindingMatch)
        #expect(Self.message(table, match, query) == expected)
    }

    static func message(_ table: HTTPRouteTable, _ match: HTTPBindingMatch, _ query: String) -> String? {
        do {
            _ = try table.queryParameters(query[...], for: match)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func errorsNameTheParameter() throws {
        let match = try #require(table.match(method: "GET", path: "/v1/shelves/s1/books").bindingMatch)
        #expect(throws: TranscodeError(message: #"unknown query parameter "filter.nope" for trestle.test.v1.ListBooksRequest"#,
                                       fieldPath: "filter.nope")) {
            try table.queryParameters("filter.nope=1", for: match)
        }
    }

    static let bodyField: [(query: String, result: [String])] = [
        ("book_id=7", ["book_id=7"]),
        ("bookId=7", ["book_id=7"]),
        ("book.title=x&book_id=7", ["book_id=7"]),  // the body fills `book`: its fields are skipped
        ("book=x", []),
        ("book.nope=x", []),  // skipped before it is resolved, as grpc-gateway's filter does
        ("parent=x", []),
    ]

    @Test(arguments: bodyField)
    func createBook(_ query: String, _ expected: [String]) throws {
        #expect(try parameters("POST", "/v1/shelves/s1/books", query) == expected)
    }

    @Test func nestedPathVariableAndBody() throws {
        // PATCH /v1/{book.name=…} body "book": the path binds book.name and the body the rest of book.
        #expect(try parameters("PATCH", "/v1/shelves/s/books/b", "update_mask=title,tags&book.title=x")
            == ["update_mask=title,tags"])
        // GET /v1/{book.name=books/*}, no body: the rest of `book` may come from the query.
        #expect(try parameters("GET", "/v1/books/b", "book.title=x&book.name=y&book.author.name=Ann&book.tags=a&book.tags=b")
            == ["book.title=x", "book.author.name=Ann", "book.tags=a", "book.tags=b"])
    }

    @Test func bodyStarIgnoresTheQuery() throws {
        // Body `*`: every field comes from the body; the query is not read, unknown names included.
        #expect(try parameters("POST", "/v1/shelves/s/books/b:archive", "name=x&foo=1&%zz") == [])
        #expect(try parameters("POST", "/trestle.test.v1.Library/ListBooks", "page_size=1&foo=2") == [])
    }
}
