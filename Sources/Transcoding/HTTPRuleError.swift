/// A `google.api.http` rule that cannot be compiled. Stops the config load; the message names the
/// binding (`google.api.http: GET /v1/{name} of trestle.test.v1.Library/GetBook: …`) and what is
/// wrong with it.
public struct HTTPRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
