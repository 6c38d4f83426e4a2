import AWSSigV4
import Environment
import Foundation

/// The AWS settings of a process, read once from its environment following the AWS SDK
/// conventions (https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html):
/// region, credentials source and endpoint overrides.
public struct AWSSettings: Sendable, Equatable {
    /// The region, from `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    public var region: String
    /// Where credentials come from.
    public var credentialsSource: CredentialsSource
    /// The S3 endpoint: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS's regional one.
    public var s3Endpoint: AWSEndpoint
    /// The EventBridge endpoint: `AWS_ENDPOINT_URL_EVENTBRIDGE`, `AWS_ENDPOINT_URL`, or AWS's.
    public var eventBridgeEndpoint: AWSEndpoint
    /// The SQS endpoint: `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`, or AWS's.
    public var sqsEndpoint: AWSEndpoint
    /// Path-style S3 addressing (`host/bucket/key`): on whenever the S3 endpoint is overridden
    /// (emulators and S3-compatible servers), or with `AWS_S3_USE_PATH_STYLE=true`.
    public var s3UsePathStyle: Bool

    /// Where the credentials come from.
    public enum CredentialsSource: Sendable, Equatable {
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`
        /// (what Lambda provides).
        case environment(AWSCredentials)
        /// The ECS/EKS container credentials endpoint, with an optional authorization token
        /// (given directly, or as a file to read before every refresh).
        case container(url: String, authorizationToken: String?, authorizationTokenFile: String?)
    }

    /// Creates settings from their parts (tests, or a caller with its own configuration).
    public init(
        region: String, credentialsSource: CredentialsSource, s3Endpoint: AWSEndpoint? = nil,
        eventBridgeEndpoint: AWSEndpoint? = nil, sqsEndpoint: AWSEndpoint? = nil, s3UsePathStyle: Bool? = nil
    ) {
        self.region = region
        self.credentialsSource = credentialsSource
        self.s3Endpoint = s3Endpoint ?? AWSEndpoint(scheme: "https", host: "s3.\(region).amazonaws.com", port: nil)
        self.eventBridgeEndpoint = eventBridgeEndpoint ?? AWSEndpoint(scheme: "https", host: "events.\(region).amazonaws.com", port: nil)
        self.sqsEndpoint = sqsEndpoint ?? AWSEndpoint(scheme: "https", host: "sqs.\(region).amazonaws.com", port: nil)
        self.s3UsePathStyle = s3UsePathStyle ?? (s3Endpoint != nil)
    }

    /// Reads the settings from an environment dictionary (pass `ProcessInfo.processInfo.environment`).
    ///
    /// - Throws: `ConfigurationError` naming the variable that is missing or malformed.
    public init(environment: [String: String]) throws(ConfigurationError) {
        let reader = EnvironmentReader(environment)
        func value(_ name: String) -> String? { reader.optional(name) }
        guard let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") else {
            throw ConfigurationError("AWS_REGION", "is not set (nor AWS_DEFAULT_REGION)")
        }
        guard region.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw ConfigurationError(
                environment["AWS_REGION"] != nil ? "AWS_REGION" : "AWS_DEFAULT_REGION",
                "is not a region name: \(region)")
        }

        let credentialsSource: CredentialsSource
        let accessKey = value("AWS_ACCESS_KEY_ID")
        let secretKey = value("AWS_SECRET_ACCESS_KEY")
        if accessKey != nil || secretKey != nil {
            guard let accessKey else { throw ConfigurationError("AWS_ACCESS_KEY_ID", "is not set but AWS_SECRET_ACCESS_KEY is") }
            guard let secretKey else { throw ConfigurationError("AWS_SECRET_ACCESS_KEY", "is not set but AWS_ACCESS_KEY_ID is") }
            credentialsSource = .environment(
                AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey, sessionToken: value("AWS_SESSION_TOKEN")))
        } else if let relative = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            guard relative.hasPrefix("/") else {
                throw ConfigurationError("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "must start with '/': \(relative)")
            }
            credentialsSource = .container(
                url: "http://169.254.170.2" + relative,
                authorizationToken: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                authorizationTokenFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
        } else if let full = value("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let endpoint = try AWSEndpoint(parsing: full, variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI")
            // The SDKs send the token only to loopback or the ECS/EKS link-local addresses over plain HTTP.
            let allowedHosts = ["127.0.0.1", "localhost", "[::1]", "::1", "169.254.170.2", "169.254.170.23", "[fd00:ec2::23]", "fd00:ec2::23"]
            guard endpoint.scheme == "https" || allowedHosts.contains(endpoint.host) || endpoint.host.hasPrefix("127.") else {
                throw ConfigurationError(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "plain HTTP is allowed only to a loopback or the ECS/EKS container address: \(full)")
            }
            credentialsSource = .container(
                url: full,
                authorizationToken: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                authorizationTokenFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
        } else {
            throw ConfigurationError(
                "AWS_ACCESS_KEY_ID",
                "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI is set"
            )
        }

        func endpoint(_ specific: String) throws(ConfigurationError) -> AWSEndpoint? {
            if let url = value(specific) { return try AWSEndpoint(parsing: url, variable: specific) }
            if let url = value("AWS_ENDPOINT_URL") { return try AWSEndpoint(parsing: url, variable: "AWS_ENDPOINT_URL") }
            return nil
        }
        let s3Endpoint = try endpoint("AWS_ENDPOINT_URL_S3")
        let pathStyle: Bool? = value("AWS_S3_USE_PATH_STYLE") == nil ? nil : try reader.bool("AWS_S3_USE_PATH_STYLE", default: false)
        self.init(
            region: region, credentialsSource: credentialsSource,
            s3Endpoint: s3Endpoint,
            eventBridgeEndpoint: try endpoint("AWS_ENDPOINT_URL_EVENTBRIDGE"),
            sqsEndpoint: try endpoint("AWS_ENDPOINT_URL_SQS"),
            s3UsePathStyle: pathStyle)
    }
}

/// A service endpoint: scheme, host and optional port (no path).
public struct AWSEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// The host name or address (IPv6 in brackets).
    public var host: String
    /// The port, when not the scheme's default.
    public var port: Int?

    /// Creates an endpoint from its parts.
    public init(scheme: String, host: String, port: Int?) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// Parses `scheme://host[:port][/]`.
    public init(parsing string: String, variable: String) throws(ConfigurationError) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ConfigurationError(variable, "is not an http(s) URL: \(string)")
        }
        guard components.path.isEmpty || components.path == "/" || variable.hasPrefix("AWS_CONTAINER") else {
            throw ConfigurationError(variable, "must not have a path: \(string)")
        }
        self.init(scheme: scheme, host: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host, port: components.port)
    }

    /// The `Host` header value: the host, with the port when it is not the scheme's default.
    public var hostHeader: String {
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else { return host }
        return "\(host):\(port)"
    }

    /// `scheme://host[:port]`.
    public var description: String { "\(scheme)://\(hostHeader)" }
}
