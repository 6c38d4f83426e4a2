import Foundation
import NIOCore
import NIOFoundationCompat

extension AWSServiceClient {
    /// One call of an AWS JSON protocol (`awsJson1_0` for SQS, `awsJson1_1` for EventBridge):
    /// a POST to `/` naming the operation in `X-Amz-Target`.
    func callJSON<Input: Encodable, Output: Decodable>(
        target: String, jsonVersion: String, input: Input,
        as output: Output.Type, timeout: TimeAmount? = nil
    ) async throws -> Output {
        let body = try ByteBuffer(bytes: JSONEncoder().encode(input))
        var client = self
        if let timeout { client = client.with(timeout: timeout) }
        let response = try await client.execute(
            method: .POST, path: "/",
            headers: [(name: "Content-Type", value: "application/x-amz-json-\(jsonVersion)"), (name: "X-Amz-Target", value: target)],
            body: body)
        do {
            let data = response.body.readableBytes == 0 ? Data("{}".utf8) : Data(buffer: response.body)
            return try JSONDecoder().decode(Output.self, from: data)
        } catch {
            throw AWSClientError.invalidResponse("\(target) answered JSON that does not decode: \(error)")
        }
    }

    func with(timeout: TimeAmount) -> AWSServiceClient {
        AWSServiceClient(
            httpClient: httpClient, credentialsProvider: credentialsProvider, region: region, service: service,
            endpoint: endpoint, retryPolicy: retryPolicy, logger: logger, now: now, timeout: timeout)
    }
}

/// An empty JSON output.
struct EmptyJSON: Codable, Sendable {}
