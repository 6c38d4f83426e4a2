import Foundation

/// A missing or malformed configuration value: the one error type of every configuration
/// read from the environment. The message names the variable.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The environment variable at fault.
    public let variable: String
    /// What is wrong with it (with the value, when there is one).
    public let problem: String

    /// Creates an error for `variable`.
    public init(_ variable: String, _ problem: String) {
        self.variable = variable
        self.problem = problem
    }

    /// `VARIABLE: problem`.
    public var description: String { "\(variable): \(problem)" }
}

/// Typed access to an environment dictionary, read once at start-up; an empty value counts
/// as unset. Every configuration type reads through one of these, and every variable is read
/// by exactly one configuration type.
public struct EnvironmentReader: Sendable {
    /// The variables, usually `ProcessInfo.processInfo.environment`.
    public let values: [String: String]

    /// Wraps an environment dictionary.
    public init(_ values: [String: String]) {
        self.values = values
    }

    /// The value, or `nil` when unset or empty.
    public func optional(_ name: String) -> String? {
        guard let value = values[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// The value; throws when it is unset or empty.
    public func required(_ name: String) throws(ConfigurationError) -> String {
        guard let value = optional(name) else { throw ConfigurationError(name, "is required but not set") }
        return value
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`), or the default when unset.
    public func bool(_ name: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        guard let value = optional(name) else { return defaultValue }
        switch value.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(name, "must be true or false, got \"\(value)\"")
        }
    }

    /// A whole number within `range`, or the default when unset.
    public func integer<T: FixedWidthInteger & Sendable>(_ name: String, default defaultValue: T, in range: ClosedRange<T>) throws(ConfigurationError)
        -> T
    {
        guard let value = optional(name) else { return defaultValue }
        guard let number = T(value) else { throw ConfigurationError(name, "must be a whole number, got \"\(value)\"") }
        guard range.contains(number) else {
            throw ConfigurationError(name, "must be between \(range.lowerBound) and \(range.upperBound), got \(number)")
        }
        return number
    }

    /// A comma-separated list without empty items; empty when unset.
    public func list(_ name: String) -> [String] {
        (optional(name) ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// One of the allowed words (compared in lower case), or the default when unset.
    public func choice(_ name: String, default defaultValue: String, allowed: [String]) throws(ConfigurationError) -> String {
        guard let value = optional(name)?.lowercased() else { return defaultValue }
        guard allowed.contains(value) else {
            throw ConfigurationError(name, "must be one of \(allowed.joined(separator: ", ")), got \"\(value)\"")
        }
        return value
    }

    /// An S3 key prefix: no leading slash, one trailing slash (or empty).
    public func prefix(_ name: String, default defaultValue: String) -> String {
        let trimmed = (optional(name) ?? defaultValue).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return trimmed.isEmpty ? "" : trimmed + "/"
    }

    /// The folder for temporary files: `TMPDIR`, else `/tmp`.
    public var temporaryDirectory: String {
        optional("TMPDIR") ?? "/tmp"
    }
}
