/// Runs `body` with the UTF-8 bytes of `text`, as the transport hands them over.
func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    Array(text.utf8).withUnsafeBytes(body)
}
