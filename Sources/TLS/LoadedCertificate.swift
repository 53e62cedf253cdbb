/// A chain and key read from their files and checked to belong together.
struct LoadedCertificate: @unchecked Sendable {
    let files: TLSCertificateFiles
    /// The leaf first.
    let chain: [X509Certificate]
    let key: PrivateKey

    static func load(_ files: TLSCertificateFiles) -> Result<LoadedCertificate, TLSFileError> {
        let chain: [X509Certificate]
        switch PEMFile.certificates(files.certificate, what: "certificate") {
        case .failure(let error): return .failure(error)
        case .success(let c): chain = c
        }
        let key: PrivateKey
        switch PEMFile.privateKey(files.key) {
        case .failure(let error): return .failure(error)
        case .success(let k): key = k
        }
        guard key.matches(chain[0]) else {
            if let index = chain.indices.dropFirst().first(where: { key.matches(chain[$0]) }) {
                return .failure(TLSFileError(file: files.certificate,
                    "chain out of order in \(files.certificate): the key \(files.key) belongs to certificate \(index + 1) "
                        + "(\(chain[index].subject)); list the certificate first, then each issuer in turn"))
            }
            return .failure(TLSFileError(file: files.key,
                "key \(files.key) does not match certificate \(files.certificate) (\(chain[0].subject))"))
        }
        return .success(LoadedCertificate(files: files, chain: chain, key: key))
    }

    var leaf: X509Certificate { chain[0] }
}
