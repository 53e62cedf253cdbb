import Testing
import Transcoding

@Suite struct PathTemplateTests {
    struct Parsed: CustomTestStringConvertible, Sendable {
        let template: String
        /// The template's shape: variables erased.
        let shape: String
        /// `fieldPath@lower..<upper` (`+` when multi-segment), in order.
        let variables: [String]
        let verb: String?
        var testDescription: String { template }
    }

    static let valid: [Parsed] = [
        Parsed(template: "/", shape: "/", variables: [], verb: nil),
        Parsed(template: "/v1/shelves", shape: "/v1/shelves", variables: [], verb: nil),
        Parsed(template: "/v1/{name}", shape: "/v1/*", variables: ["name@1..<2"], verb: nil),
        Parsed(template: "/v1/{name=*}", shape: "/v1/*", variables: ["name@1..<2"], verb: nil),
        Parsed(template: "/v1/{name=shelves/*}", shape: "/v1/shelves/*", variables: ["name@1..<3+"], verb: nil),
        Parsed(template: "/v1/{name=shelves/*/books/*}", shape: "/v1/shelves/*/books/*",
               variables: ["name@1..<5+"], verb: nil),
        Parsed(template: "/v1/{book.name=shelves/*/books/*}", shape: "/v1/shelves/*/books/*",
               variables: ["book.name@1..<5+"], verb: nil),
        Parsed(template: "/v1/{parent=shelves/*}/books", shape: "/v1/shelves/*/books",
               variables: ["parent@1..<3+"], verb: nil),
        Parsed(template: "/v1/{path=**}", shape: "/v1/**", variables: ["path@1..<2+"], verb: nil),
        Parsed(template: "/v1/{name=files/**}", shape: "/v1/files/**", variables: ["name@1..<3+"], verb: nil),
        Parsed(template: "/v1/**", shape: "/v1/**", variables: [], verb: nil),
        Parsed(template: "/v1/*/books/{id}", shape: "/v1/*/books/*", variables: ["id@3..<4"], verb: nil),
        Parsed(template: "/v1/{shelf}/{book}", shape: "/v1/*/*", variables: ["shelf@1..<2", "book@2..<3"], verb: nil),
        Parsed(template: "/v1/{kind=fiction}", shape: "/v1/fiction", variables: ["kind@1..<2"], verb: nil),
        Parsed(template: "/v1/{book.id}:title", shape: "/v1/*:title", variables: ["book.id@1..<2"], verb: "title"),
        Parsed(template: "/v1/{name=shelves/*/books/*}:archive", shape: "/v1/shelves/*/books/*:archive",
               variables: ["name@1..<5+"], verb: "archive"),
        Parsed(template: "/v1/books:batchGet", shape: "/v1/books:batchGet", variables: [], verb: "batchGet"),
        Parsed(template: "/v1/{path=**}:undelete", shape: "/v1/**:undelete", variables: ["path@1..<2+"], verb: "undelete"),
        Parsed(template: "/v1/a%2Fb/x-y_z.~!$&'()+,;=@", shape: "/v1/a%2Fb/x-y_z.~!$&'()+,;=@", variables: [], verb: nil),
        Parsed(template: "/trestle.test.v1.Library/GetBook", shape: "/trestle.test.v1.Library/GetBook",
               variables: [], verb: nil),
    ]

    @Test(arguments: valid)
    func parses(_ expected: Parsed) throws {
        let template = try PathTemplate(expected.template)
        #expect(template.text == expected.template)
        #expect(template.description == expected.template)
        #expect(template.shape == expected.shape)
        #expect(template.verb == expected.verb)
        let variables = template.variables.map { v in
            "\(v.fieldPathText)@\(v.segmentRange.lowerBound)..<\(v.segmentRange.upperBound)\(v.isMultiSegment ? "+" : "")"
        }
        #expect(variables == expected.variables)
    }

    @Test func segments() throws {
        let template = try PathTemplate("/v1/{name=shelves/*/books/**}:undelete")
        #expect(template.segments == [.literal("v1"), .literal("shelves"), .wildcard, .literal("books"), .deepWildcard])
        #expect(template.variables.map(\.fieldPath) == [["name"]])
        #expect(try PathTemplate("/v1/{a.b.c}").variables.map(\.fieldPath) == [["a", "b", "c"]])
    }

    static let invalid: [(template: String, error: String)] = [
        ("", #"invalid path template "": missing leading "/" at offset 0"#),
        ("v1/books", #"invalid path template "v1/books": must start with "/" at offset 0"#),
        ("/v1/{name=shelves/*", #"invalid path template "/v1/{name=shelves/*": missing "}" at offset 19"#),
        ("/v1/{name", #"invalid path template "/v1/{name": missing "}" at offset 9"#),
        ("/v1/{", #"invalid path template "/v1/{": missing "}" at offset 5"#),
        ("/v1//books", #"invalid path template "/v1//books": empty segment at offset 4"#),
        ("//", #"invalid path template "//": empty segment at offset 1"#),
        ("/v1/", #"invalid path template "/v1/": empty segment at offset 4"#),
        ("/v1/**/books", #"invalid path template "/v1/**/books": "**" must be the last segment at offset 4"#),
        ("/v1/**/**", #"invalid path template "/v1/**/**": "**" must be the last segment at offset 4"#),
        ("/v1/{name=**}/books", #"invalid path template "/v1/{name=**}/books": "**" must be the last segment at offset 10"#),
        ("/v1/{name=**/books}", #"invalid path template "/v1/{name=**/books}": "**" must be the last segment at offset 10"#),
        ("/v1/{name={id}}", #"invalid path template "/v1/{name={id}}": nested variable at offset 10"#),
        ("/v1/{name=shelves/{id}}", #"invalid path template "/v1/{name=shelves/{id}}": nested variable at offset 18"#),
        ("/v1/{name{id}}", #"invalid path template "/v1/{name{id}}": nested variable at offset 9"#),
        ("/v1/{1name}", #"invalid path template "/v1/{1name}": expected a field name at offset 5"#),
        ("/v1/{}", #"invalid path template "/v1/{}": expected a field name at offset 5"#),
        ("/v1/{name.}", #"invalid path template "/v1/{name.}": expected a field name at offset 10"#),
        ("/v1/{name/x}", #"invalid path template "/v1/{name/x}": unexpected "/" at offset 9"#),
        ("/v1/{name=}", #"invalid path template "/v1/{name=}": empty segment at offset 10"#),
        ("/v1/{name=a:b}", #"invalid path template "/v1/{name=a:b}": unexpected ":" at offset 11"#),
        ("/v1/{name}/{name}", #"invalid path template "/v1/{name}/{name}": variable {name} appears twice at offset 11"#),
        ("/v1/}", #"invalid path template "/v1/}": unmatched "}" at offset 4"#),
        ("/v1/a}", #"invalid path template "/v1/a}": unmatched "}" at offset 5"#),
        ("/v1/books:", #"invalid path template "/v1/books:": empty verb at offset 10"#),
        ("/v1/books:a/b", #"invalid path template "/v1/books:a/b": unexpected "/" at offset 11"#),
        ("/v1/books:a:b", #"invalid path template "/v1/books:a:b": unexpected ":" at offset 11"#),
        ("/v1/bo?ks", #"invalid path template "/v1/bo?ks": unexpected "?" at offset 6"#),
        ("/v1/*x", #"invalid path template "/v1/*x": unexpected "x" at offset 5"#),
        ("/v1/x*", #"invalid path template "/v1/x*": unexpected "*" at offset 5"#),
        ("/v1/***", #"invalid path template "/v1/***": unexpected "*" at offset 6"#),
        ("/v1/a%zz", #"invalid path template "/v1/a%zz": invalid percent-encoding at offset 5"#),
        ("/v1/a%2", #"invalid path template "/v1/a%2": invalid percent-encoding at offset 5"#),
        ("/v1/caf\u{E9}", #"invalid path template "/v1/café": unexpected byte 0xC3 at offset 7"#),
    ]

    @Test(arguments: invalid)
    func rejects(_ template: String, _ error: String) {
        #expect(throws: HTTPRuleError(error)) { try PathTemplate(template) }
    }

    // MARK: - Resolving variables against the request message

    static let resolutions: [(template: String, result: String)] = [
        ("/v1/{name}", "name"),
        ("/v1/{book.id}/{version}", "book.id version"),
        ("/v1/{book.author.display_name}", "book.author.display_name"),
        ("/v1/{book.author.displayName}", "book.author.display_name"),  // JSON names resolve too
        ("/v1/{book.genre}/{at}", "book.genre at"),
        ("/v1/{nope}", #"variable {nope}: trestle.test.v1.GetResourceRequest has no field "nope""#),
        ("/v1/{book.nope}", #"variable {book.nope}: trestle.test.v1.Book has no field "nope""#),
        ("/v1/{tags}", "variable {tags}: trestle.test.v1.GetResourceRequest.tags is repeated"),
        ("/v1/{shelf.books.name}", "variable {shelf.books.name}: trestle.test.v1.Shelf.books is repeated"),
        ("/v1/{book}", "variable {book}: trestle.test.v1.GetResourceRequest.book is a message (trestle.test.v1.Book), not a value"),
        ("/v1/{extra}", "variable {extra}: trestle.test.v1.GetResourceRequest.extra is a message (google.protobuf.Struct), not a value"),
        ("/v1/{name.x}", "variable {name.x}: trestle.test.v1.GetResourceRequest.name is not a message"),
        ("/v1/{name}/{name=x}", #"invalid path template "/v1/{name}/{name=x}": variable {name} appears twice at offset 11"#),
    ]

    @Test(arguments: resolutions)
    func resolvesVariables(_ text: String, _ expected: String) throws {
        let registry = try HTTPRuleFixtures.registry([])
        let request = try #require(registry.message(named: "trestle.test.v1.GetResourceRequest"))
        do {
            let template = try PathTemplate(text)
            let paths = try template.resolveVariables(in: request)
            #expect(paths.map { $0.map(\.name).joined(separator: ".") }.joined(separator: " ") == expected)
        } catch {
            #expect(error.message == expected)
        }
    }

    @Test func mapVariableIsRejected() throws {
        let registry = try HTTPRuleFixtures.registry([])
        let request = try #require(registry.message(named: "trestle.test.v1.ListBooksRequest"))
        #expect(throws: HTTPRuleError("variable {labels}: trestle.test.v1.ListBooksRequest.labels is a map")) {
            try PathTemplate("/v1/{labels}").resolveVariables(in: request)
        }
        #expect(throws: HTTPRuleError("variables {page_token} and {pageToken} bind the same field")) {
            try PathTemplate("/v1/{page_token}/{pageToken}").resolveVariables(in: request)
        }
    }
}
