/// The methods of `trestle.demo.v1.Echo`, by their `:path`.
enum DemoMethod {
    case echo, expand, collect, chat, unknown

    private static let paths: [(path: [UInt8], method: DemoMethod)] = [
        (Array("/trestle.demo.v1.Echo/Echo".utf8), .echo),
        (Array("/trestle.demo.v1.Echo/Chat".utf8), .chat),
        (Array("/trestle.demo.v1.Echo/Expand".utf8), .expand),
        (Array("/trestle.demo.v1.Echo/Collect".utf8), .collect),
    ]

    /// The method a request's `:path` names, `unknown` for any other path.
    init(path: UnsafeRawBufferPointer) {
        self = Self.paths.first { path.elementsEqual($0.path) }?.method ?? .unknown
    }
}
