/// A gRPC status code (gRPC `doc/statuscodes.md`).
///
/// The raw value is the code carried in `grpc-status`. The mappings to and from HTTP live in
/// `GRPCStatusCode+HTTP.swift`, one `switch` per mapping.
public enum GRPCStatusCode: UInt8, Sendable, CaseIterable {
    case ok = 0
    case cancelled
    case unknown
    case invalidArgument
    case deadlineExceeded
    case notFound
    case alreadyExists
    case permissionDenied
    case resourceExhausted
    case failedPrecondition
    case aborted
    case outOfRange
    case unimplemented
    case internalError
    case unavailable
    case dataLoss
    case unauthenticated

    /// The canonical upper-snake-case name: `"OK"`, `"CANCELLED"`, … `"UNAUTHENTICATED"`.
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    /// The code as ASCII decimal text, `"0"` … `"16"`, as sent in the `grpc-status` header.
    /// Small strings are stored inline, so this does not allocate.
    public var decimalText: String {
        String(rawValue)
    }

    /// Parses a `grpc-status` value: ASCII decimal `0` … `16` without sign or leading zeros.
    /// Returns nil for anything else; the caller decides what an unknown code means
    /// (gRPC treats codes it does not know as UNKNOWN).
    public init?(decimalText bytes: UnsafeRawBufferPointer) {
        guard bytes.count == 1 || bytes.count == 2 else { return nil }
        if bytes.count == 2 && bytes[0] == UInt8(ascii: "0") { return nil }
        var value: UInt8 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + (byte - UInt8(ascii: "0"))
        }
        self.init(rawValue: value)
    }

    /// Parses a `grpc-status` value given as a String; see `init?(decimalText:)`.
    public init?(decimalText text: String) {
        var text = text
        let code = text.withUTF8 { GRPCStatusCode(decimalText: UnsafeRawBufferPointer($0)) }
        guard let code else { return nil }
        self = code
    }
}

extension GRPCStatusCode: CustomStringConvertible {
    /// `"14 UNAVAILABLE"`: the number and the name, as logs show it.
    public var description: String {
        "\(rawValue) \(name)"
    }
}
