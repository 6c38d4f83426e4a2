import AsyncHTTPClient
import NIOCore
import NIOPosix

/// Hand-written: no package this project may use retries AWS calls (Soto is not available).
///
/// How often and how long a failed call is tried again: exponential backoff with full jitter
/// (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/), bounded both in
/// attempts and in total time.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The backoff ceiling of the first retry; it doubles on each further retry.
    public var baseDelay: Duration
    /// The largest backoff ceiling.
    public var maxDelay: Duration
    /// No retry starts once this much time has passed since the first attempt.
    public var maxTotalTime: Duration

    /// Creates a policy.
    public init(
        maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(20),
        maxTotalTime: Duration = .seconds(120)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxTotalTime = maxTotalTime
    }

    /// The SDKs' standard mode: 3 attempts... we allow 5, since a scan that fails costs a whole
    /// Lambda retry, and S3 asks clients to back off on `SlowDown`.
    public static let `default` = RetryPolicy()

    /// No retries at all.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The jittered delay before retry number `retry` (1 for the first retry).
    func delay(beforeRetry retry: Int) -> Duration {
        let exponent = min(retry - 1, 30)
        let ceiling = min(maxDelay, baseDelay * (1 << exponent))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds))
    }

    /// Whether an error is worth another attempt: throttling, 5xx, timeouts, dropped or refused
    /// connections, bodies that ended short. Client mistakes (4xx) and cancellation are not.
    static func isRetryable(_ error: any Error) -> Bool {
        switch error {
        case let error as AWSError: return error.isRetryable
        case let error as AWSClientError: return error.isRetryable
        case is CancellationError: return false
        case let error as HTTPClientError:
            return error != .cancelled && error != .alreadyShutdown && error != .invalidURL
        default:
            // NIO channel and socket errors (connection reset, refused, EOF mid-body).
            return true
        }
    }

    /// Runs `operation` until it succeeds, fails with an error that is not retryable, or the
    /// attempts or the time run out; the last error is thrown.
    func run<T>(
        isolation: isolated (any Actor)? = #isolation,
        clock: ContinuousClock = ContinuousClock(),
        onRetry: (Int, any Error, Duration) -> Void = { _, _, _ in },
        _ operation: (_ attempt: Int) async throws -> T
    ) async throws -> T {
        let start = clock.now
        var attempt = 1
        while true {
            do {
                return try await operation(attempt)
            } catch {
                guard attempt < maxAttempts, Self.isRetryable(error) else { throw error }
                var delay = delay(beforeRetry: attempt)
                if let awsError = error as? AWSError, awsError.isThrottling {
                    // Throttling: wait at least a little, even with a tiny jitter draw.
                    delay = max(delay, baseDelay / 2)
                }
                guard clock.now - start + delay < maxTotalTime else { throw error }
                onRetry(attempt, error, delay)
                try await Task.sleep(for: delay)
                attempt += 1
            }
        }
    }
}
