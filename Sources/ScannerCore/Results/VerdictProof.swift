import Crypto
import Foundation

/// A keyed proof that the scanner itself wrote a verdict onto one object version, so that at
/// the next event for it (S3 delivers events at least once) the scanner can trust its own
/// verdict and skip the scan, and trust nothing an uploader wrote (docs/threat-model.md).
///
/// It is an HMAC-SHA256, keyed with the definitions manifest's proof key, over the bucket,
/// key, version ID and entity tag of the scanned content, the verdict and the definitions
/// version tag: a verdict moved onto other content, other definitions or another object does
/// not verify. The key is in the definitions bucket, which uploaders cannot read.
enum VerdictProof {
    /// The proof, base64 (S3 allows `+`, `/` and `=` in tag values).
    static func make(key: SymmetricKey, object: ObjectRef, status: String, definitions: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: message(object, status: status, definitions: definitions), using: key)
        return Data(code).base64EncodedString()
    }

    /// Whether `proof` is the proof for these values (compared in constant time).
    static func isValid(_ proof: String, key: SymmetricKey, object: ObjectRef, status: String, definitions: String) -> Bool {
        guard let code = Data(base64Encoded: proof) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: message(object, status: status, definitions: definitions), using: key)
    }

    /// The key of a manifest, when it has one.
    static func key(base64: String?) -> SymmetricKey? {
        base64.flatMap { Data(base64Encoded: $0) }.map(SymmetricKey.init)
    }

    private static func message(_ object: ObjectRef, status: String, definitions: String) -> Data {
        // Each field prefixed with its length: keys may hold any character, and no two
        // objects can then give the same message.
        let fields = [
            "s3-clamav-scanner verdict proof v1", object.bucket, object.key, object.versionID ?? "",
            object.eTag ?? "", status, definitions,
        ]
        return Data(fields.map { "\($0.utf8.count):\($0)" }.joined().utf8)
    }
}
