import AsyncHTTPClient
import NIOCore

extension HTTPClient.Configuration {
    /// An HTTP client configuration suited to the AWS clients: enough connections per host for
    /// parallel ranged downloads and multipart uploads, redirects not followed (S3 answers a
    /// wrong-region request with a redirect whose signature would not hold; it surfaces as an
    /// ``AWSError`` instead), and connect and read timeouts that fail a stalled connection so
    /// the retry policy can take over.
    ///
    /// - Parameter maxConnectionsPerHost: At least ``S3TransferOptions/downloadConcurrency``.
    public static func forAWSClients(maxConnectionsPerHost: Int = 32) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(60))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnectionsPerHost
        configuration.decompression = .disabled
        return configuration
    }
}
