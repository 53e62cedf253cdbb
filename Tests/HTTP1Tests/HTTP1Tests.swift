import HTTP1
import Testing

@Suite struct HTTP1ModuleTests {
    @Test func moduleLinks() {
        #expect(String(describing: HTTP1.self) == "HTTP1")
    }
}
