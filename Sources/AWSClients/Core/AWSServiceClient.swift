import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// What every service client shares: the HTTP client, credentials, signing, retries and error
/// decoding. Internal; the public clients are thin layers over it.
struct AWSServiceClient: Sendable {
    let httpClient: HTTPClient
    let credentialsProvider: any AWSCredentialsProvider
    let region: String
    let service: String
    let endpoint: AWSEndpoint
    let retryPolicy: RetryPolicy
    let logger: Logger
    let now: @Sendable () -> Date
    /// How long one attempt may take, from the request to the last byte of a buffered body.
    let timeout: TimeAmount

    /// A response whose body was read into memory.
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    /// The signed request for one attempt.
    func makeRequest(
        method: HTTPMethod, host: String? = nil, path: String, query: [(name: String, value: String)],
        headers: [(name: String, value: String)], body: ByteBuffer?
    ) async throws -> HTTPClientRequest {
        let credentials = try await credentialsProvider.credentials()
        let hostHeader = host ?? endpoint.hostHeader
        let payloadHash = body.map { SigV4Signer.payloadHash($0.readableBytesView) } ?? SigV4Signer.emptyPayloadHash
        var toSign = headers
        if service == "s3" { toSign.append((name: "x-amz-content-sha256", value: payloadHash)) }
        let queryString = SigV4Signer.queryString(query)
        let signer = SigV4Signer(credentials: credentials, region: region, service: service)
        let signed = signer.sign(
            method: method.rawValue, host: hostHeader, path: path, query: queryString,
            headers: toSign, payloadHash: payloadHash, date: now())
        var request = HTTPClientRequest(url: "\(endpoint.scheme)://\(hostHeader)\(path)" + (queryString.isEmpty ? "" : "?\(queryString)"))
        request.method = method
        for header in signed.headers where header.name.lowercased() != "host" {
            request.headers.add(name: header.name, value: header.value)
        }
        request.headers.replaceOrAdd(name: "User-Agent", value: "s3-clamav-scanner-awsclients/1.0")
        if let body {
            request.body = .bytes(body)
        } else if method == .PUT || method == .POST {
            request.headers.replaceOrAdd(name: "Content-Length", value: "0")
        }
        return request
    }

    /// Sends a request with retries and returns the buffered response of the first attempt that
    /// is not an error. Error statuses become ``AWSError``; statuses in `accept` are returned.
    func execute(
        method: HTTPMethod, host: String? = nil, path: String, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: ByteBuffer? = nil,
        accept: Set<UInt> = [], maxBodySize: Int = 64 << 20
    ) async throws -> Response {
        try await retryPolicy.run(onRetry: logRetry) { attempt in
            let request = try await makeRequest(method: method, host: host, path: path, query: query, headers: headers, body: body)
            let start = ContinuousClock.now
            let response = try await httpClient.execute(request, timeout: timeout, logger: logger)
            let buffer = try await response.body.collect(upTo: maxBodySize)
            // No headers, paths or bodies in the log: they can name objects and carry signatures.
            logger.debug(
                "AWS call",
                metadata: [
                    "service": "\(service)", "method": "\(method.rawValue)", "status": "\(response.status.code)",
                    "requestID": "\(response.headers.first(name: "x-amz-request-id") ?? response.headers.first(name: "x-amzn-RequestId") ?? "")",
                    "attempt": "\(attempt)", "duration": "\(ContinuousClock.now - start)",
                ])
            try Self.checkLength(of: buffer.readableBytes, headers: response.headers, method: method)
            if (200..<300).contains(response.status.code) || accept.contains(response.status.code) {
                return Response(status: response.status, headers: response.headers, body: buffer)
            }
            throw Self.decodeError(status: response.status, headers: response.headers, body: buffer)
        }
    }

    func logRetry(attempt: Int, error: any Error, delay: Duration) {
        logger.debug(
            "retrying AWS call",
            metadata: [
                "service": "\(service)", "attempt": "\(attempt)", "error": "\(error)", "delay": "\(delay)",
            ])
    }

    /// A buffered body must be exactly as long as `Content-Length` announced.
    static func checkLength(of count: Int, headers: HTTPHeaders, method: HTTPMethod) throws {
        guard method != .HEAD, let announced = headers.first(name: "Content-Length").flatMap(Int.init) else { return }
        guard announced == count else {
            throw AWSClientError.incompleteBody("response body has \(count) bytes, Content-Length announced \(announced)")
        }
    }

    /// Decodes an error response: S3's XML `<Error>`, the JSON protocols' `__type`, or the
    /// status alone when there is no body (HEAD, 304, 412 on HEAD).
    static func decodeError(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) -> AWSError {
        let requestID = headers.first(name: "x-amz-request-id") ?? headers.first(name: "x-amzn-RequestId")
        let statusCode = Int(status.code)
        let bytes = body.readableBytesView
        let text = String(buffer: body)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("<"), let root = try? XMLTree.parse(bytes) {
            // S3: <Error>; query protocols: <ErrorResponse><Error>.
            let error = root.name == "Error" ? root : (root.child("Error") ?? root.child("Errors")?.child("Error"))
            if let error, let code = error.string("Code") {
                return AWSError(
                    code: code, message: error.string("Message") ?? "", requestID: requestID ?? error.string("RequestId") ?? root.string("RequestId"),
                    statusCode: statusCode)
            }
        }
        if trimmed.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] {
            let rawType = (object["__type"] as? String) ?? (object["code"] as? String) ?? headers.first(name: "x-amzn-ErrorType") ?? ""
            // `com.amazonaws.sqs#QueueDoesNotExist` and `QueueDoesNotExist:http://...` both mean QueueDoesNotExist.
            var code = rawType.split(separator: "#").last.map(String.init) ?? rawType
            code = code.split(separator: ":").first.map(String.init) ?? code
            let message = (object["message"] as? String) ?? (object["Message"] as? String) ?? ""
            if !code.isEmpty { return AWSError(code: code, message: message, requestID: requestID, statusCode: statusCode) }
        }
        let code: String
        switch statusCode {
        case 304: code = "NotModified"
        case 400: code = "BadRequest"
        case 403: code = "AccessDenied"
        case 404: code = "NotFound"
        case 412: code = "PreconditionFailed"
        case 416: code = "InvalidRange"
        case 429: code = "TooManyRequests"
        case 500: code = "InternalError"
        case 503: code = "ServiceUnavailable"
        default: code = "HTTP\(statusCode)"
        }
        return AWSError(
            code: code, message: trimmed.isEmpty ? status.reasonPhrase : String(trimmed.prefix(500)), requestID: requestID, statusCode: statusCode)
    }
}
