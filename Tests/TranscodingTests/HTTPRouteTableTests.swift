import Testing
import Transcoding

private typealias M = HTTPRuleFixtures.Method
private let empty = ".google.protobuf.Empty"

/// A library service with every rule form: the five verbs and a custom kind, multi-segment and
/// `**` variables, nested field paths, verbs, additional bindings, each body and response_body form.
private let library: [M] = [
    M("Library", "GetBook", "GetBookRequest", "Book", HTTPRule(
        method: "GET", pattern: "/v1/{name=shelves/*/books/*}",
        additionalBindings: [HTTPRule(method: "GET", pattern: "/v1/books/{name}")])),
    M("Library", "ListBooks", "ListBooksRequest", "ListBooksResponse", HTTPRule(
        method: "GET", pattern: "/v1/{parent=shelves/*}/books", responseBody: "books")),
    M("Library", "CreateBook", "CreateBookRequest", "Book", HTTPRule(
        method: "POST", pattern: "/v1/{parent=shelves/*}/books", body: "book")),
    M("Library", "UpdateBook", "UpdateBookRequest", "Book", HTTPRule(
        method: "PATCH", pattern: "/v1/{book.name=shelves/*/books/*}", body: "book")),
    M("Library", "ReplaceBook", "UpdateBookRequest", "Book", HTTPRule(
        method: "PUT", pattern: "/v1/{book.name=shelves/*/books/*}", body: "*")),
    M("Library", "DeleteBook", "GetBookRequest", empty, HTTPRule(
        method: "DELETE", pattern: "/v1/{name=shelves/*/books/*}")),
    M("Library", "ArchiveBook", "GetBookRequest", "Book", HTTPRule(
        method: "POST", pattern: "/v1/{name=shelves/*/books/*}:archive", body: "*")),
    M("Library", "GetTitle", "GetResourceRequest", "Book", HTTPRule(
        method: "GET", pattern: "/v1/{book.id}:title", responseBody: "title")),
    M("Library", "HeadBook", "GetBookRequest", empty, HTTPRule(
        method: "HEAD", pattern: "/v1/{name=shelves/*/books/*}")),
    M("Library", "GetDefaultShelfBook", "GetResourceRequest", "Book", HTTPRule(
        method: "GET", pattern: "/v1/shelves/default/books/{id}")),
    M("Library", "GetFile", "GetResourceRequest", "Book", HTTPRule(
        method: "GET", pattern: "/v1/files/{path=**}")),
    M("Library", "Browse", "GetResourceRequest", "Book", HTTPRule(
        method: "GET", pattern: "/v1/{path=**}")),
    M("Library", "Ping", empty, empty),
]

@Suite struct HTTPRouteTableTests {
    let table: HTTPRouteTable

    init() throws {
        table = try HTTPRuleFixtures.table(library)
    }

    // MARK: - Matching and precedence

    static let matchCases: [(method: String, path: String, result: String)] = [
        // Every rule form.
        ("GET", "/v1/shelves/s1/books/b1", "Library/GetBook name=shelves/s1/books/b1"),
        ("GET", "/v1/books/b1", "Library/GetBook name=b1"),  // additional_bindings
        ("GET", "/v1/shelves/s1/books", "Library/ListBooks parent=shelves/s1"),
        ("POST", "/v1/shelves/s1/books", "Library/CreateBook parent=shelves/s1"),
        ("PATCH", "/v1/shelves/s1/books/b1", "Library/UpdateBook book.name=shelves/s1/books/b1"),
        ("PUT", "/v1/shelves/s1/books/b1", "Library/ReplaceBook book.name=shelves/s1/books/b1"),
        ("DELETE", "/v1/shelves/s1/books/b1", "Library/DeleteBook name=shelves/s1/books/b1"),
        ("POST", "/v1/shelves/s1/books/b1:archive", "Library/ArchiveBook name=shelves/s1/books/b1"),
        ("GET", "/v1/42:title", "Library/GetTitle book.id=42"),
        ("HEAD", "/v1/shelves/s1/books/b1", "Library/HeadBook name=shelves/s1/books/b1"),
        ("GET", "/v1/files/a/b/c.txt", "Library/GetFile path=a/b/c.txt"),
        ("POST", "/trestle.test.v1.Library/GetBook", "Library/GetBook"),  // the default binding
        ("POST", "/google.protobuf.Empty/x", "404"),
        ("POST", "/trestle.test.v1.Library/Ping", "Library/Ping"),

        // Precedence: literal over `*` over `**`, at the first segment where they differ.
        ("GET", "/v1/shelves/default/books/7", "Library/GetDefaultShelfBook id=7"),
        ("GET", "/v1/shelves/other/books/7", "Library/GetBook name=shelves/other/books/7"),
        ("GET", "/v1/shelves/default/books/7/x", "Library/Browse path=shelves/default/books/7/x"),
        ("GET", "/v1/shelves/default/books", "Library/ListBooks parent=shelves/default"),
        ("GET", "/v1/files", "Library/GetFile path="),  // the literal wins; `**` then matches no segment
        ("GET", "/v1/files/", "Library/GetFile path="),  // a trailing `/` is one empty segment
        ("GET", "/v1/shelves", "Library/Browse path=shelves"),
        ("GET", "/v1", "Library/Browse path="),  // `**` matches no segment
        ("GET", "/v1/", "Library/Browse path="),  // an empty segment is a segment (grpc-gateway)
        ("GET", "/v1/books/", "Library/GetBook name="),  // ...which `*` matches
        ("GET", "/v1/shelves//books", "Library/ListBooks parent=shelves/"),
        ("GET", "/v1//books/b1", "Library/Browse path=/books/b1"),  // but no literal does

        // Verbs: exact, else the colon is part of the last segment.
        ("GET", "/v1/shelves/s1/books/b1:archive", "Library/GetBook name=shelves/s1/books/b1:archive"),
        ("GET", "/v1/shelves/s1/books/b1:unknown", "Library/GetBook name=shelves/s1/books/b1:unknown"),
        ("GET", "/v1/books/b:1", "Library/GetBook name=b:1"),
        ("GET", "/v1/42:titles", "Library/Browse path=42:titles"),
        ("GET", "/v1/a:b/c", "Library/Browse path=a:b/c"),
        ("GET", "/v1/:title", "Library/Browse path=:title"),  // a leading colon is no verb
        ("PATCH", "/v1/shelves/s1/books/b1:archive", "Library/UpdateBook book.name=shelves/s1/books/b1:archive"),

        // HTTP method mismatches: 405 with every method whose binding matches the path.
        ("PUT", "/v1/books/b1", "405 GET"),
        ("GET", "/trestle.test.v1.Library/GetBook", "405 POST"),
        ("POST", "/v1/shelves/s1/books/b1", "405 DELETE,GET,HEAD,PATCH,PUT"),
        ("OPTIONS", "/v1/42:title", "405 GET"),
        ("head", "/v1/shelves/s1/books/b1", "405 DELETE,GET,HEAD,PATCH,PUT"),  // methods compare exactly
        ("DELETE", "/v1/7:title", "405 GET"),
        ("DELETE", "/v1", "405 GET"),

        // Not found.
        ("GET", "/v2/books", "404"),
        ("GET", "/", "404"),
        ("GET", "v1/books/b1", "404"),
        ("GET", "", "404"),
        ("POST", "/trestle.test.v1.Library/GetBook/x", "404"),
        ("POST", "/trestle.test.v1.Library/getbook", "404"),
    ]

    @Test(arguments: matchCases)
    func matches(_ method: String, _ path: String, _ expected: String) {
        #expect(table.match(method: method, path: path[...]).summary == expected)
    }

    static let decoding: [(path: String, result: String)] = [
        // Single-segment variables decode every %XX.
        ("/v1/books/a%2Fb%20c%3A%25", "Library/GetBook name=a/b c:%"),
        ("/v1/books/caf%C3%A9", "Library/GetBook name=café"),
        ("/v1/books/a+b", "Library/GetBook name=a+b"),  // `+` is not a space in a path
        // Multi-segment variables keep %2F (either case) as written, decode the rest.
        ("/v1/files/dir%2Fsub/file%20name.txt", "Library/GetFile path=dir%2Fsub/file name.txt"),
        ("/v1/files/a%2fb/%41", "Library/GetFile path=a%2fb/A"),
        ("/v1/shelves/s%2F1/books/b%201", "Library/GetBook name=shelves/s%2F1/books/b 1"),
        // Literals compare with the raw segment: an encoded literal is not that literal.
        ("/v1/%73helves/s1/books/b1", "Library/Browse path=shelves/s1/books/b1"),
        // Bad escapes and non-UTF-8 values answer 400.
        ("/v1/books/a%zz", #"400 invalid percent-encoding in path variable {name}: "a%zz""#),
        ("/v1/books/a%2", #"400 invalid percent-encoding in path variable {name}: "a%2""#),
        ("/v1/books/%FF", "400 path variable {name} is not UTF-8 once percent-decoded"),
        ("/v1/files/x/%C3", "400 path variable {path} is not UTF-8 once percent-decoded"),
    ]

    @Test(arguments: decoding)
    func decodesVariables(_ path: String, _ expected: String) {
        #expect(table.match(method: "GET", path: path[...]).summary == expected)
    }

    @Test func invalidPathNamesTheField() throws {
        guard case .invalidPath(let error) = table.match(method: "GET", path: "/v1/books/%zz") else {
            Issue.record("expected .invalidPath")
            return
        }
        #expect(error.fieldPath == "name")
    }

    @Test func matchesWithinALargerString() {
        // The path may be a slice of the request-target: only its own bytes count.
        let target = "/v1/books/b1?view=full"
        let path = target[..<target.firstIndex(of: "?")!]
        #expect(table.match(method: "GET", path: path).summary == "Library/GetBook name=b1")
    }

    // MARK: - What a match carries

    @Test func bodyAndResponseBody() throws {
        func binding(_ method: String, _ path: String) throws -> HTTPBindingMatch {
            try #require(table.match(method: method, path: path[...]).bindingMatch)
        }
        let get = try binding("GET", "/v1/shelves/s/books/b")
        #expect(get.bodyField == nil)
        #expect(get.responseBodyField == nil)
        #expect(get.method.path == "/trestle.test.v1.Library/GetBook")
        #expect(get.binding.httpMethod == "GET")
        #expect(get.binding.template.text == "/v1/{name=shelves/*/books/*}")
        #expect(!get.binding.isDefault)

        let create = try binding("POST", "/v1/shelves/s/books")
        #expect(create.bodyField?.map(\.name) == ["book"])
        let replace = try binding("PUT", "/v1/shelves/s/books/b")
        #expect(replace.bodyField?.isEmpty == true)  // body "*"
        let list = try binding("GET", "/v1/shelves/s/books")
        #expect(list.responseBodyField?.name == "books")
        let title = try binding("GET", "/v1/7:title")
        #expect(title.responseBodyField?.name == "title")
        #expect(title.variables.map { $0.path.map(\.name) } == [["book", "id"]])

        let byDefault = try binding("POST", "/trestle.test.v1.Library/ListBooks")
        #expect(byDefault.binding.isDefault)
        #expect(byDefault.bodyField?.isEmpty == true)
        #expect(byDefault.responseBodyField == nil)
        #expect(byDefault.method.name == "ListBooks")
        #expect(byDefault.variables.isEmpty)
    }

    @Test func listsEveryBinding() {
        // 13 defaults + 12 rules + 1 additional binding.
        #expect(table.bindings.count == 26)
        #expect(table.bindings.filter(\.isDefault).count == 13)
        #expect(table.notes.isEmpty)
        #expect(table.bindings.map(\.description).contains("GET /v1/books/{name} of trestle.test.v1.Library/GetBook"))
    }

    @Test func tableKeepsItsRegistryAlive() throws {
        // Descriptors point at each other unowned: a table built from a registry that nobody else
        // holds (as here) must keep it, or the request types it hands out dangle.
        let table = try HTTPRuleFixtures.table([
            M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name}")),
        ])
        let match = try #require(table.match(method: "GET", path: "/v1/b").bindingMatch)
        #expect(match.method.inputType.fullName == "trestle.test.v1.GetBookRequest")
        #expect(match.variables.first?.path.first?.name == "name")
        #expect(table.registry.message(named: "trestle.test.v1.Book") != nil)
    }

    @Test func servicePredicateSelectsServices() throws {
        let methods = [
            M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name=shelves/*}")),
            M("B", "Fetch", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{id=shelves/*}")),
        ]
        let onlyA = try HTTPRuleFixtures.table(methods, services: { $0 == "trestle.test.v1.A" })
        #expect(onlyA.match(method: "GET", path: "/v1/shelves/x").summary == "A/Get name=shelves/x")
        #expect(onlyA.match(method: "POST", path: "/trestle.test.v1.B/Fetch").summary == "404")
        #expect(onlyA.bindings.count == 2)
    }

    @Test func ruleRestatingTheDefaultBindingReplacesIt() throws {
        let table = try HTTPRuleFixtures.table([
            M("A", "Get", "GetBookRequest", "Book",
              HTTPRule(method: "POST", pattern: "/trestle.test.v1.A/Get", body: "*", responseBody: "title")),
        ])
        let match = try #require(table.match(method: "POST", path: "/trestle.test.v1.A/Get").bindingMatch)
        #expect(!match.binding.isDefault)
        #expect(match.responseBodyField?.name == "title")
        #expect(table.bindings.count == 1)
    }

    @Test func precedenceAtTheFirstDifference() throws {
        // `/v1/x/{id}` has its literal first, so it wins for /v1/x/b even though `/v1/{name}/b` has
        // a literal later; `/v1/x/c/**` beats `/v1/x/{id}` for /v1/x/c (literal `c` over `*`), its
        // `**` matching nothing; a lookup that fails down the literal branch falls back to `*`.
        let table = try HTTPRuleFixtures.table([
            M("A", "Wild", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name}/b")),
            M("A", "Lit", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/x/{id}")),
            M("A", "Deep", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/x/c/{path=**}")),
        ])
        #expect(table.match(method: "GET", path: "/v1/x/b").summary == "A/Lit id=b")
        #expect(table.match(method: "GET", path: "/v1/y/b").summary == "A/Wild name=y")
        #expect(table.match(method: "GET", path: "/v1/x/c").summary == "A/Deep path=")
        #expect(table.match(method: "GET", path: "/v1/x/c/d").summary == "A/Deep path=d")
        #expect(table.match(method: "GET", path: "/v1/x/b/c").summary == "404")
    }

    @Test func sameTemplateDifferentMethodsDoNotCollide() throws {
        let table = try HTTPRuleFixtures.table([
            M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name}")),
            M("A", "Put", "GetResourceRequest", "Book", HTTPRule(method: "PUT", pattern: "/v1/{id}", body: "*")),
            M("A", "Verb", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name}:verb")),
            M("A", "Lit", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/a")),
            M("A", "One", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v2/*")),
            M("A", "Many", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v2/**")),
        ])
        #expect(table.match(method: "GET", path: "/v1/a").summary == "A/Lit")
        #expect(table.match(method: "GET", path: "/v1/b").summary == "A/Get name=b")
        #expect(table.match(method: "PUT", path: "/v1/a").summary == "A/Put id=a")
        #expect(table.match(method: "GET", path: "/v1/a:verb").summary == "A/Verb name=a")
        #expect(table.match(method: "GET", path: "/v2/a").summary == "A/One")
        #expect(table.match(method: "GET", path: "/v2/a/b").summary == "A/Many")
        #expect(table.match(method: "GET", path: "/v2").summary == "A/Many")
    }

    // MARK: - Compile errors

    static let errors: [(methods: [HTTPRuleFixtures.Method], error: String)] = [
        // Collisions: same HTTP method and shape, whatever the variables are called.
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name=shelves/*}")),
          M("B", "Fetch", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{id=shelves/*}"))],
         "google.api.http: GET /v1/{name=shelves/*} of trestle.test.v1.A/Get collides with GET /v1/{id=shelves/*} of trestle.test.v1.B/Fetch"),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(
            method: "GET", pattern: "/v1/{name}/{id}",
            additionalBindings: [HTTPRule(method: "GET", pattern: "/v1/{id=*/*}")]))],
         "google.api.http: GET /v1/{name}/{id} of trestle.test.v1.A/Get collides with GET /v1/{id=*/*} of trestle.test.v1.A/Get"),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "POST", pattern: "/v1/{name}:cancel", body: "*")),
          M("A", "Stop", "GetResourceRequest", "Book", HTTPRule(method: "POST", pattern: "/v1/*:cancel"))],
         "google.api.http: POST /v1/{name}:cancel of trestle.test.v1.A/Get collides with POST /v1/*:cancel of trestle.test.v1.A/Stop"),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/**")),
          M("A", "All", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{path=**}"))],
         "google.api.http: GET /v1/** of trestle.test.v1.A/Get collides with GET /v1/{path=**} of trestle.test.v1.A/All"),
        ([M("A", "Get", "GetBookRequest", "Book"),
          M("B", "Fetch", "GetResourceRequest", "Book", HTTPRule(method: "POST", pattern: "/trestle.test.v1.A/Get", body: "*"))],
         "google.api.http: POST /trestle.test.v1.A/Get of trestle.test.v1.A/Get collides with POST /trestle.test.v1.A/Get of trestle.test.v1.B/Fetch"),
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "HEAD", pattern: "/v1/x")),
          M("A", "Peek", "GetBookRequest", "Book", HTTPRule(method: "HEAD", pattern: "/v1/x"))],
         "google.api.http: HEAD /v1/x of trestle.test.v1.A/Get collides with HEAD /v1/x of trestle.test.v1.A/Peek"),

        // Templates.
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name=shelves/*"))],
         #"google.api.http: GET /v1/{name=shelves/* of trestle.test.v1.A/Get: invalid path template "/v1/{name=shelves/*": missing "}" at offset 19"#),
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: ""))],
         #"google.api.http: GET  of trestle.test.v1.A/Get: invalid path template "": missing leading "/" at offset 0"#),
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(
            method: "GET", pattern: "/v1/{name}", additionalBindings: [HTTPRule(method: "GET", pattern: "/v1/**/x")]))],
         #"google.api.http: GET /v1/**/x of trestle.test.v1.A/Get: invalid path template "/v1/**/x": "**" must be the last segment at offset 4"#),

        // Variables must resolve to a singular value field of the request.
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{nope}"))],
         #"google.api.http: GET /v1/{nope} of trestle.test.v1.A/Get: variable {nope}: trestle.test.v1.GetBookRequest has no field "nope""#),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{book.nope}"))],
         #"google.api.http: GET /v1/{book.nope} of trestle.test.v1.A/Get: variable {book.nope}: trestle.test.v1.Book has no field "nope""#),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{tags}"))],
         "google.api.http: GET /v1/{tags} of trestle.test.v1.A/Get: variable {tags}: trestle.test.v1.GetResourceRequest.tags is repeated"),
        ([M("A", "Get", "ListBooksRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{labels}"))],
         "google.api.http: GET /v1/{labels} of trestle.test.v1.A/Get: variable {labels}: trestle.test.v1.ListBooksRequest.labels is a map"),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{book}"))],
         "google.api.http: GET /v1/{book} of trestle.test.v1.A/Get: variable {book}: trestle.test.v1.GetResourceRequest.book is a message (trestle.test.v1.Book), not a value"),
        ([M("A", "Get", "GetResourceRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name.first}"))],
         "google.api.http: GET /v1/{name.first} of trestle.test.v1.A/Get: variable {name.first}: trestle.test.v1.GetResourceRequest.name is not a message"),

        // body and response_body name top-level fields.
        ([M("A", "Create", "CreateBookRequest", "Book", HTTPRule(method: "POST", pattern: "/v1/books", body: "nope"))],
         #"google.api.http: POST /v1/books of trestle.test.v1.A/Create: body "nope" is not a field of trestle.test.v1.CreateBookRequest"#),
        ([M("A", "Create", "CreateBookRequest", "Book", HTTPRule(method: "POST", pattern: "/v1/books", body: "book.title"))],
         #"google.api.http: POST /v1/books of trestle.test.v1.A/Create: body "book.title" is not a field of trestle.test.v1.CreateBookRequest"#),
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/books", responseBody: "nope"))],
         #"google.api.http: GET /v1/books of trestle.test.v1.A/Get: response_body "nope" is not a field of trestle.test.v1.Book"#),

        // The HTTP method.
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "", pattern: "", body: "*"))],
         "google.api.http of trestle.test.v1.A/Get: no HTTP method and path (set get, put, post, delete, patch or custom)"),
        ([M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "BAD KIND", pattern: "/v1/x"))],
         #"google.api.http: BAD KIND /v1/x of trestle.test.v1.A/Get: custom method "BAD KIND" is not an HTTP method token"#),
    ]

    @Test(arguments: errors)
    func rejects(_ methods: [HTTPRuleFixtures.Method], _ expected: String) throws {
        #expect(try HTTPRuleFixtures.compileError(methods) == expected)
    }

    @Test func errorIsDescribedByItsMessage() {
        let error = HTTPRuleError("google.api.http: x")
        #expect(error.description == "google.api.http: x")
        #expect("\(error)" == "google.api.http: x")
    }

    @Test func valueLeavesThatAreAllowed() throws {
        // Nested scalars, enums, wrappers and Timestamps can be path variables; JSON names resolve.
        let table = try HTTPRuleFixtures.table([
            M("A", "Get", "GetResourceRequest", "Book", HTTPRule(
                method: "GET", pattern: "/v1/{book.author.displayName}/{book.genre}/{version}/{at}")),
        ])
        let match = try #require(table.match(method: "GET", path: "/v1/Ann/FICTION/3/2024-01-01T00:00:00Z").bindingMatch)
        #expect(match.variables.map { $0.path.map(\.name).joined(separator: ".") + "=" + $0.value } == [
            "book.author.display_name=Ann", "book.genre=FICTION", "version=3", "at=2024-01-01T00:00:00Z",
        ])
    }

    @Test func bodyOnGetOrDeleteIsAllowedWithANote() throws {
        let table = try HTTPRuleFixtures.table([
            M("A", "Get", "GetBookRequest", "Book", HTTPRule(method: "GET", pattern: "/v1/{name}", body: "*")),
            M("A", "Delete", "CreateBookRequest", "Book", HTTPRule(method: "DELETE", pattern: "/v1/{parent}", body: "book")),
            M("A", "Post", "CreateBookRequest", "Book", HTTPRule(method: "POST", pattern: "/v1/{parent}", body: "book")),
        ])
        #expect(table.notes == [
            #"google.api.http: GET /v1/{name} of trestle.test.v1.A/Get has body "*"; HTTP clients and proxies may drop the body of a GET request"#,
            #"google.api.http: DELETE /v1/{parent} of trestle.test.v1.A/Delete has body "book"; HTTP clients and proxies may drop the body of a DELETE request"#,
        ])
        #expect(table.match(method: "GET", path: "/v1/x").bindingMatch?.bodyField?.isEmpty == true)
    }
}
