import Environment
import Logging

/// How the executables log: one JSON object per line on standard error, at `LOG_LEVEL`.
/// Libraries log at debug and take their logger from the executable; metrics go to standard
/// output as EMF lines (``MetricsEmitter``).
public struct LoggingConfiguration: Sendable, Equatable {
    /// The lowest level written (`LOG_LEVEL`: trace, debug, info, notice, warning, error,
    /// critical; default info).
    public var level: Logger.Level

    /// Creates a configuration.
    public init(level: Logger.Level = .info) {
        self.level = level
    }

    /// Reads `LOG_LEVEL`.
    public init(_ reader: EnvironmentReader) throws(ConfigurationError) {
        let name = try reader.choice("LOG_LEVEL", default: "info", allowed: Logger.Level.allCases.map(\.rawValue))
        level = Logger.Level(rawValue: name) ?? .info
    }

    /// Installs the JSON log handler for the whole process (once, at start-up) and returns
    /// the executable's logger.
    public func bootstrap(label: String) -> Logger {
        let level = self.level
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, logLevel: level) }
        return Logger(label: label)
    }
}
