/// The deadline an operation overran.
struct DeadlineReached: Error {}

/// Runs `operation`, cancelling it at `deadline` (`nil`: no deadline). Throws
/// ``DeadlineReached`` when the deadline came first. The operation must stop when cancelled
/// (HTTP requests and sleeps do).
func bounded<T: Sendable>(
    by deadline: ContinuousClock.Instant?, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    guard let deadline else { return try await operation() }
    return try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            throw DeadlineReached()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
