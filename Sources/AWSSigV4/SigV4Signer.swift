import Crypto
import Foundation

/// Hand-written: no available package signs AWS requests (Soto is not available); swift-crypto
/// does the cryptography.
///
/// Signs HTTP requests with AWS Signature Version 4 in the `Authorization` header.
///
/// The algorithm: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
/// The signer is a pure function of its inputs and the signing date, which the caller passes
/// in so that tests can use the dates of AWS's published examples.
public struct SigV4Signer: Sendable {
    /// How the request path becomes the canonical URI.
    public enum PathEncoding: Sendable {
        /// S3: the path as sent (already URI-encoded once) is the canonical URI.
        case single
        /// Every other service: the path as sent is URI-encoded a second time.
        case double
    }

    /// The credentials that sign.
    public var credentials: AWSCredentials
    /// The region of the endpoint, e.g. `eu-west-1`.
    public var region: String
    /// The signing name of the service, e.g. `s3`, `events`, `sqs`.
    public var service: String
    /// How the path is encoded in the canonical request.
    public var pathEncoding: PathEncoding

    /// Creates a signer for one service in one region.
    public init(credentials: AWSCredentials, region: String, service: String, pathEncoding: PathEncoding? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.pathEncoding = pathEncoding ?? (service == "s3" ? .single : .double)
    }

    /// The SHA-256 of the empty payload, hex-encoded.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The `x-amz-content-sha256` value that leaves the payload out of the signature.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// The result of signing: the headers to send and the intermediate strings (for tests and
    /// debugging; never log them in production, they name every signed header).
    public struct SignedRequest: Sendable {
        /// The request headers to send: the input headers plus `host` (when missing),
        /// `x-amz-date`, `x-amz-security-token` (with temporary credentials) and `authorization`.
        public var headers: [(name: String, value: String)]
        /// The canonical request that was hashed.
        public var canonicalRequest: String
        /// The string that was signed.
        public var stringToSign: String
        /// The value of the `Authorization` header.
        public var authorization: String
    }

    /// Signs a request.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - host: The `Host` header value (with the port when it is not the scheme's default).
    ///   - path: The path exactly as it goes on the request line, already URI-encoded
    ///     (use ``uriEncode(_:encodeSlash:)`` per segment or on the whole path).
    ///   - query: The query string as it goes on the request line (without `?`), or empty.
    ///   - headers: Headers to sign (any case; repeated names are joined with commas).
    ///   - payloadHash: The hex SHA-256 of the body, or ``unsignedPayload``.
    ///   - date: The signing date.
    public func sign(
        method: String,
        host: String,
        path: String,
        query: String = "",
        headers: [(name: String, value: String)] = [],
        payloadHash: String,
        date: Date
    ) -> SignedRequest {
        let (amzDate, shortDate) = Self.timestamps(date)
        var allHeaders = headers
        if !allHeaders.contains(where: { $0.name.lowercased() == "host" }) {
            allHeaders.insert((name: "host", value: host), at: 0)
        }
        allHeaders.removeAll { $0.name.lowercased() == "x-amz-date" }
        allHeaders.append((name: "x-amz-date", value: amzDate))
        if let token = credentials.sessionToken,
            !allHeaders.contains(where: { $0.name.lowercased() == "x-amz-security-token" })
        {
            allHeaders.append((name: "x-amz-security-token", value: token))
        }

        // Canonical headers: lower-case names, trimmed values with inner runs of spaces
        // collapsed, repeated names joined with commas in the order they were given.
        var grouped: [String: [String]] = [:]
        for header in allHeaders {
            grouped[header.name.lowercased(), default: []].append(Self.normalizeHeaderValue(header.value))
        }
        let signedNames = grouped.keys.sorted()
        let canonicalHeaders = signedNames.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = signedNames.joined(separator: ";")

        let canonicalURI: String
        switch pathEncoding {
        case .single: canonicalURI = path.isEmpty ? "/" : path
        case .double: canonicalURI = path.isEmpty ? "/" : Self.uriEncode(path, encodeSlash: false)
        }

        let canonicalRequest = [
            method.uppercased(),
            canonicalURI,
            Self.canonicalQuery(query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(shortDate)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            "AWS4-HMAC-SHA256",
            amzDate,
            scope,
            Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")

        let signingKey = Self.signingKey(secret: credentials.secretAccessKey, date: shortDate, region: region, service: service)
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        allHeaders.append((name: "authorization", value: authorization))
        return SignedRequest(headers: allHeaders, canonicalRequest: canonicalRequest, stringToSign: stringToSign, authorization: authorization)
    }

    /// URI-encodes a string as SigV4 requires: every byte except the unreserved characters
    /// `A-Z a-z 0-9 - . _ ~` becomes `%XX` (upper-case hex); `/` is kept when `encodeSlash` is false.
    public static func uriEncode(_ string: String, encodeSlash: Bool = true) -> String {
        var result = ""
        result.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where !encodeSlash:
                result.append("/")
            default:
                result.append("%")
                result.append(hexDigits[Int(byte >> 4)])
                result.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return result
    }

    /// Builds a query string from decoded name/value pairs, encoded as SigV4 expects
    /// (so that the string sent and the canonical query agree byte for byte).
    public static func queryString(_ items: [(name: String, value: String)]) -> String {
        items.map { "\(uriEncode($0.name))=\(uriEncode($0.value))" }.joined(separator: "&")
    }

    private static let hexDigits: [Character] = Array("0123456789ABCDEF")

    /// The canonical query: every parameter decoded, re-encoded strictly, sorted by name then value.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs: [(String, String)] = query.split(separator: "&", omittingEmptySubsequences: true).map { part in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecode(String(pieces[0]))
            let value = pieces.count > 1 ? percentDecode(String(pieces[1])) : ""
            return (uriEncode(name), uriEncode(value))
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Decodes `%XX` escapes (not `+`: SigV4 query strings are not form-encoded).
    static func percentDecode(_ string: String) -> String {
        guard string.contains("%") else { return string }
        var bytes: [UInt8] = []
        let utf8 = Array(string.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
                let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Trims a header value and collapses runs of spaces into one, as the canonical form requires.
    static func normalizeHeaderValue(_ value: String) -> String {
        var result = ""
        var lastWasSpace = false
        for character in value.trimmingCharacters(in: .whitespaces) {
            if character == " " {
                if !lastWasSpace { result.append(" ") }
                lastWasSpace = true
            } else {
                result.append(character)
                lastWasSpace = false
            }
        }
        return result
    }

    static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd` in UTC, without a shared formatter.
    static func timestamps(_ date: Date) -> (amzDate: String, shortDate: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let string = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - string.count)) + string
        }
        let short = pad(c.year, 4) + pad(c.month, 2) + pad(c.day, 2)
        return (short + "T" + pad(c.hour, 2) + pad(c.minute, 2) + pad(c.second, 2) + "Z", short)
    }

    /// Lower-case hex of a digest or MAC.
    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The hex SHA-256 of a payload, for `x-amz-content-sha256` and the canonical request.
    public static func payloadHash<D: DataProtocol>(_ payload: D) -> String {
        hex(SHA256.hash(data: payload))
    }
}
