import TLS

/// Certificates made for the tests with the `openssl` command line, once per test process, in a
/// fresh temporary folder: a CA and another CA, server certificates (localhost and 127.0.0.1, an
/// SNI name, a wildcard, expired, not yet valid, wrong name, expiring soon, self-signed), a
/// chain through an intermediate and the same chain out of order, client certificates (trusted
/// and from the other CA), and a key that matches nothing. All keys ECDSA P-256.
struct TestPKI: Sendable {
    let dir: String

    static let shared: TestPKI = {
        let dir = makeTempDirectory("trestle-tls-tests")
        writeText(dir + "/make.sh", script)
        let status = shell("cd '\(dir)' && sh make.sh > make.log 2>&1")
        precondition(status == 0, "making test certificates failed:\n" + readText(dir + "/make.log"))
        return TestPKI(dir: dir)
    }()

    func path(_ name: String) -> String { dir + "/" + name }
    func pair(_ name: String) -> TLSCertificateFiles {
        TLSCertificateFiles(certificate: path(name + ".crt"), key: path(name + ".key"))
    }

    var ca: String { path("ca.crt") }
    var otherCA: String { path("other-ca.crt") }
    var server: TLSCertificateFiles { pair("server") }

    static let script = #"""
        set -e
        ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
        newca() {  # name subject
          ec $1.key
          openssl req -x509 -new -key $1.key -out $1.crt -days 3650 -subj "$2"
          mkdir -p db-$1; : > db-$1/index.txt; echo 1000 > db-$1/serial
          printf '[ca]\ndefault_ca=x\n[x]\ndatabase=db-%s/index.txt\nnew_certs_dir=db-%s\nserial=db-%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\norganizationName=optional\n' $1 $1 $1 > $1.cnf
        }
        # sign CA NAME SUBJECT EXTENSIONS DATES...
        sign() {
          ca=$1; name=$2; subject=$3; ext=$4; shift 4
          [ -f $name.key ] || ec $name.key
          openssl req -new -key $name.key -out $name.csr -subj "$subject"
          printf '[v3]\n%s\n' "$ext" > $name.ext
          openssl ca -batch -notext -rand_serial -config $ca.cnf -cert $ca.crt -keyfile $ca.key \
            -in $name.csr -out $name.crt -extfile $name.ext -extensions v3 "$@"
        }
        server='basicConstraints=CA:FALSE
        extendedKeyUsage=serverAuth'
        client='basicConstraints=CA:FALSE
        extendedKeyUsage=clientAuth'
        newca ca "/CN=Trestle Test CA"
        newca other-ca "/CN=Other Test CA"
        sign ca server "/CN=localhost" "$server
        subjectAltName=DNS:localhost,IP:127.0.0.1" -days 365
        sign ca other "/CN=other.test" "$server
        subjectAltName=DNS:other.test" -days 365
        sign ca wildcard "/CN=wild" "$server
        subjectAltName=DNS:*.wild.test" -days 365
        sign ca expired "/CN=localhost" "$server
        subjectAltName=DNS:localhost,IP:127.0.0.1" -startdate 20200101000000Z -enddate 20200201000000Z
        sign ca notyet "/CN=localhost" "$server
        subjectAltName=DNS:localhost,IP:127.0.0.1" -startdate 20990101000000Z -enddate 20991231000000Z
        sign ca wrongname "/CN=wrong.example" "$server
        subjectAltName=DNS:wrong.example" -days 365
        sign ca soon "/CN=localhost" "$server
        subjectAltName=DNS:localhost" -days 10
        sign ca client "/CN=client-a/O=Acme" "$client
        subjectAltName=DNS:client-a.test,URI:spiffe://trestle.test/client-a" -days 365
        sign other-ca rogue "/CN=rogue" "$client" -days 365
        # An intermediate CA and a leaf it issued; the chain file in order and out of order.
        sign ca intermediate "/CN=Trestle Test Intermediate" 'basicConstraints=critical,CA:TRUE
        keyUsage=critical,keyCertSign,cRLSign' -days 365
        mkdir -p db-intermediate; : > db-intermediate/index.txt; echo 1000 > db-intermediate/serial
        sed 's/db-ca/db-intermediate/g' ca.cnf > intermediate.cnf
        sign intermediate leaf "/CN=localhost" "$server
        subjectAltName=DNS:localhost" -days 365
        cat leaf.crt intermediate.crt > chain.crt; cp leaf.key chain.key
        cat intermediate.crt leaf.crt > misordered.crt; cp leaf.key misordered.key
        # A self-signed server certificate; a key that matches nothing; a file that is not PEM.
        ec selfsigned.key
        openssl req -x509 -new -key selfsigned.key -out selfsigned.crt -days 365 -subj /CN=localhost \
          -addext subjectAltName=DNS:localhost
        ec stray.key
        cp server.crt mismatched.crt; cp stray.key mismatched.key
        echo "not a certificate" > garbage.pem
        """#
}
