import UVLoop

/// One line to standard error, unbuffered.
public func printStderr(_ line: String) {
    writeStderr(line + "\n")
}
