import Foundation
import Logging

/// Hand-written: swift-log ships no JSON handler, and none of the available packages has one.
///
/// A swift-log handler that writes one JSON object per line, the form CloudWatch Logs
/// Insights parses without configuration.
///
/// Fields, in this order: `timestamp` (ISO 8601 UTC with milliseconds), `level`
/// (one of Lambda's JSON log levels, see ``lambdaLevel(_:)``), `message`, `logger`
/// (the logger's label), `error` (only when the caller passed one), then every metadata
/// entry. Nested metadata dictionaries are flattened with dotted keys (`s3.bucket`);
/// arrays stay JSON arrays. A metadata key that would shadow one of the fixed fields is
/// written as `metadata.<key>`. Nothing else is added: no source file, function or line,
/// and nothing the caller did not put into the logger, its metadata provider or the call.
public struct JSONLogHandler: LogHandler {
    /// The fixed field names; metadata with one of these keys gets a `metadata.` prefix.
    static let reservedKeys: Set<String> = ["timestamp", "level", "message", "logger", "error"]

    /// The logger's label, written as the `logger` field.
    public let label: String
    /// Entries below this level are dropped.
    public var logLevel: Logger.Level
    /// Metadata attached to the logger itself; the call's metadata wins on conflicts.
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed at each call (for example from a task-local request context).
    public var metadataProvider: Logger.MetadataProvider?

    private let sink: LineSink
    private let clock: @Sendable () -> Date

    /// Creates a handler.
    /// - Parameters:
    ///   - label: the logger's label.
    ///   - logLevel: the lowest level written.
    ///   - metadataProvider: extra metadata computed at each call.
    ///   - sink: where the lines go; standard error unless a test injects a buffer.
    ///   - clock: the source of timestamps; injectable so tests can fix it.
    public init(
        label: String,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        sink: LineSink = .standardError,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
        self.sink = sink
        self.clock = clock
    }

    /// Gets or sets one entry of the logger's own metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one event as a JSON line.
    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let callMetadata = event.metadata {
            merged.merge(callMetadata) { _, new in new }
        }
        sink.write(
            Self.render(
                timestamp: clock(),
                level: event.level,
                message: event.message.description,
                label: label,
                error: event.error,
                metadata: merged
            )
        )
    }

    /// Renders one log line; separate from `log(event:)` so the format can be tested alone.
    static func render(
        timestamp: Date,
        level: Logger.Level,
        message: String,
        label: String,
        error: (any Error)?,
        metadata: Logger.Metadata
    ) -> String {
        var line = "{\"timestamp\":"
        let milliseconds = Int64((timestamp.timeIntervalSince1970 * 1000).rounded())
        JSONText.appendString(JSONText.iso8601(millisecondsSinceEpoch: milliseconds), to: &line)
        line.append(",\"level\":")
        JSONText.appendString(lambdaLevel(level), to: &line)
        line.append(",\"message\":")
        JSONText.appendString(message, to: &line)
        line.append(",\"logger\":")
        JSONText.appendString(label, to: &line)
        if let error {
            line.append(",\"error\":")
            JSONText.appendString(String(describing: error), to: &line)
        }

        var fields: [(String, Logger.Metadata.Value)] = []
        flatten(metadata, prefix: "", into: &fields)
        var written = Self.reservedKeys
        for (key, value) in fields.sorted(by: { $0.0 < $1.0 }) {
            var name = key
            if written.contains(name) { name = "metadata." + key }
            guard written.insert(name).inserted else { continue }
            line.append(",")
            JSONText.appendString(name, to: &line)
            line.append(":")
            appendValue(value, to: &line)
        }
        line.append("}")
        return line
    }

    /// The level name written for a swift-log level.
    ///
    /// Lambda's advanced logging controls filter JSON application logs by their `level`
    /// field and know only `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` and `FATAL`
    /// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html),
    /// so swift-log's `notice` is written as `INFO`, `warning` as `WARN` and `critical` as `FATAL`.
    public static func lambdaLevel(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info, .notice: "INFO"
        case .warning: "WARN"
        case .error: "ERROR"
        case .critical: "FATAL"
        }
    }

    private static func flatten(
        _ metadata: Logger.Metadata,
        prefix: String,
        into fields: inout [(String, Logger.Metadata.Value)]
    ) {
        for (key, value) in metadata {
            let name = prefix.isEmpty ? key : prefix + "." + key
            if case .dictionary(let nested) = value, !nested.isEmpty {
                flatten(nested, prefix: name, into: &fields)
            } else {
                fields.append((name, value))
            }
        }
    }

    private static func appendValue(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let string):
            JSONText.appendString(string, to: &line)
        case .stringConvertible(let convertible):
            // Numbers and booleans stay numbers and booleans so Logs Insights can compare them.
            switch convertible {
            case let bool as Bool:
                line.append(bool ? "true" : "false")
            case let integer as any BinaryInteger:
                line.append(String(describing: integer))
            case let floating as Double:
                JSONText.appendNumber(floating, to: &line)
            case let floating as Float:
                JSONText.appendNumber(Double(floating), to: &line)
            default:
                JSONText.appendString(convertible.description, to: &line)
            }
        case .array(let values):
            line.append("[")
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(",") }
                appendValue(element, to: &line)
            }
            line.append("]")
        case .dictionary(let dictionary):
            // Only reached for empty dictionaries at the top level and dictionaries inside arrays.
            line.append("{")
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line.append(",") }
                JSONText.appendString(key, to: &line)
                line.append(":")
                appendValue(dictionary[key]!, to: &line)
            }
            line.append("}")
        }
    }
}
