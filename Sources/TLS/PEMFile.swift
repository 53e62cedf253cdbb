#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL

/// Reads certificate chains, private keys and CA bundles from PEM files, with errors that name
/// the file and say what is wrong in it. Blocking file I/O: call off the loops (at startup, in
/// `trestle check`, on the thread that reloads).
enum PEMFile {
    /// The whole file, or why it cannot be read (`No such file or directory`).
    static func read(_ path: String) -> Result<[UInt8], TLSFileError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(TLSFileError(file: path, "cannot read \(path): \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(TLSFileError(file: path, "cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0 ..< count])
            // Certificate files are a few KB; a CA bundle ~200 KB. Refuse what cannot be one.
            if bytes.count > 16 << 20 {
                return .failure(TLSFileError(file: path, "\(path) is larger than 16 MiB: not a PEM file"))
            }
        }
    }

    /// Every certificate in the file, in file order (other PEM blocks, such as a key, are
    /// skipped). `what` names the file's role in messages: `certificate`, `CA file`.
    static func certificates(_ path: String, what: String) -> Result<[X509Certificate], TLSFileError> {
        let bytes: [UInt8]
        switch read(path) {
        case .failure(let error): return .failure(error)
        case .success(let b): bytes = b
        }
        var certificates: [X509Certificate] = []
        let failure: String? = bytes.withUnsafeBytes { raw -> String? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return "out of memory" }
            defer { BIO_free(bio) }
            ERR_clear_error()
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(X509Certificate(owning: x509))
            }
            let errors = OpenSSLErrors.drain()
            // The loop ends at the first missing "BEGIN CERTIFICATE": that is the normal end.
            if errors.first == 0 || (errors.library == ERR_LIB_PEM && errors.reason == PEM_R_NO_START_LINE) {
                return nil
            }
            return errors.text
        }
        if let failure {
            return .failure(TLSFileError(file: path, "\(what) \(path): a certificate in it cannot be parsed: \(failure)"))
        }
        guard !certificates.isEmpty else {
            return .failure(TLSFileError(file: path, "\(what) \(path) holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"))
        }
        return .success(certificates)
    }

    /// The private key in the file (PKCS#8, or the traditional RSA/EC forms). Encrypted keys are
    /// refused: the gateway restarts and reloads unattended.
    static func privateKey(_ path: String) -> Result<PrivateKey, TLSFileError> {
        let bytes: [UInt8]
        switch read(path) {
        case .failure(let error): return .failure(error)
        case .success(let b): bytes = b
        }
        guard contains(bytes, "PRIVATE KEY-----") else {
            return .failure(TLSFileError(file: path, "key \(path) holds no PEM private key (\"-----BEGIN PRIVATE KEY-----\")"))
        }
        if contains(bytes, "ENCRYPTED") {
            return .failure(TLSFileError(file: path, "key \(path) is encrypted: passphrases are not supported (openssl pkey -in KEY -out PLAIN)"))
        }
        return bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(TLSFileError(file: path, "key \(path): out of memory"))
            }
            defer { BIO_free(bio) }
            ERR_clear_error()
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                let errors = OpenSSLErrors.drain()
                return .failure(TLSFileError(file: path, "key \(path) cannot be parsed: \(errors.text)"))
            }
            return .success(PrivateKey(owning: key))
        }
    }

    private static func contains(_ bytes: [UInt8], _ word: String) -> Bool {
        let w = Array(word.utf8)
        guard bytes.count >= w.count else { return false }
        for i in 0 ... bytes.count - w.count where bytes[i] == w[0] {
            if bytes[i ..< i + w.count].elementsEqual(w) { return true }
        }
        return false
    }
}
