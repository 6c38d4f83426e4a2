import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Something that hands out current AWS credentials. The seam where tests and callers plug in
/// their own source; the clients ask it before every request.
public protocol AWSCredentialsProvider: Sendable {
    /// Credentials valid for at least the next few minutes.
    func credentials() async throws -> AWSCredentials
}

/// Fixed credentials, e.g. from the environment.
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    let value: AWSCredentials

    /// Wraps fixed credentials.
    public init(_ credentials: AWSCredentials) { self.value = credentials }

    /// Returns the fixed credentials.
    public func credentials() async throws -> AWSCredentials { value }
}

/// Credentials from the ECS/EKS container credentials endpoint
/// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html),
/// cached and refreshed ahead of their expiration. Concurrent callers share one refresh.
public actor ContainerCredentialsProvider: AWSCredentialsProvider {
    private let url: String
    private let authorizationToken: String?
    private let authorizationTokenFile: String?
    private let httpClient: HTTPClient
    private let refreshMargin: Duration
    private let now: @Sendable () -> Date
    private let retryPolicy: RetryPolicy
    private let logger: Logger
    private var cached: AWSCredentials?
    private var refreshing: Task<AWSCredentials, any Error>?

    /// Creates a provider for a credentials URL.
    ///
    /// - Parameters:
    ///   - refreshMargin: Credentials that expire within this margin are refreshed first.
    ///   - now: The clock, injectable for tests.
    public init(
        url: String, authorizationToken: String?, authorizationTokenFile: String? = nil,
        httpClient: HTTPClient, refreshMargin: Duration = .seconds(300),
        retryPolicy: RetryPolicy = .default, logger: Logger = Logger(label: "aws.credentials"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.url = url
        self.authorizationToken = authorizationToken
        self.authorizationTokenFile = authorizationTokenFile
        self.httpClient = httpClient
        self.refreshMargin = refreshMargin
        self.retryPolicy = retryPolicy
        self.logger = logger
        self.now = now
    }

    /// Cached credentials, or fresh ones when the cached ones expire within the margin.
    public func credentials() async throws -> AWSCredentials {
        if let cached, !needsRefresh(cached) { return cached }
        if let refreshing { return try await refreshing.value }
        let task = Task { try await self.fetch() }
        refreshing = task
        defer { refreshing = nil }
        let fresh = try await task.value
        cached = fresh
        return fresh
    }

    private func needsRefresh(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        let margin = Double(refreshMargin.components.seconds)
        return expiration.timeIntervalSince(now()) <= margin
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    // The AWS JSON protocol's wire names.
    private struct Response: Decodable {
        var AccessKeyId: String
        var SecretAccessKey: String
        var Token: String?
        var Expiration: String?
    }

    private func fetch() async throws -> AWSCredentials {
        var token = authorizationToken
        if let file = authorizationTokenFile {
            // EKS Pod Identity rotates the token file: read it on every refresh.
            token = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        if let token { request.headers.add(name: "Authorization", value: token) }
        let body = try await retryPolicy.run { _ in
            let response = try await httpClient.execute(request, timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                let error = AWSError(
                    code: "CredentialsEndpointError",
                    message: "container credentials endpoint answered \(response.status.code): \(String(buffer: body).prefix(200))",
                    requestID: nil, statusCode: Int(response.status.code))
                throw error
            }
            return body
        }
        let decoded: Response
        do { decoded = try JSONDecoder().decode(Response.self, from: Data(buffer: body)) } catch {
            throw AWSClientError.invalidResponse("container credentials response is not the expected JSON: \(error)")
        }
        let expiration = try decoded.Expiration.map { value throws(AWSClientError) -> Date in
            guard let date = AWSDates.parse(value) else { throw .invalidResponse("container credentials Expiration is not ISO 8601: \(value)") }
            return date
        }
        logger.debug("fetched container credentials", metadata: ["expiration": "\(decoded.Expiration ?? "none")"])
        return AWSCredentials(
            accessKeyID: decoded.AccessKeyId, secretAccessKey: decoded.SecretAccessKey,
            sessionToken: decoded.Token, expiration: expiration)
    }
}

extension AWSSettings {
    /// The credentials provider that the settings describe.
    public func makeCredentialsProvider(httpClient: HTTPClient, logger: Logger = Logger(label: "aws.credentials")) -> any AWSCredentialsProvider {
        switch credentialsSource {
        case .environment(let credentials):
            return StaticCredentialsProvider(credentials)
        case .container(let url, let token, let tokenFile):
            return ContainerCredentialsProvider(
                url: url, authorizationToken: token, authorizationTokenFile: tokenFile,
                httpClient: httpClient, logger: logger)
        }
    }
}
