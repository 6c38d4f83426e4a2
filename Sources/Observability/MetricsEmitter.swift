import Foundation

/// A CloudWatch metric unit, as named in the CloudWatch `MetricDatum` API.
public struct MetricUnit: RawRepresentable, Hashable, Sendable {
    /// The unit's CloudWatch name.
    public let rawValue: String
    /// Creates a unit from its CloudWatch name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A count of things (objects scanned, verdicts).
    public static let count = MetricUnit(rawValue: "Count")
    /// A size in bytes.
    public static let bytes = MetricUnit(rawValue: "Bytes")
    /// A duration in milliseconds.
    public static let milliseconds = MetricUnit(rawValue: "Milliseconds")
    /// A duration in seconds (for example the age of the definitions).
    public static let seconds = MetricUnit(rawValue: "Seconds")
    /// A percentage.
    public static let percent = MetricUnit(rawValue: "Percent")
    /// No unit.
    public static let none = MetricUnit(rawValue: "None")
}

/// One metric to emit: a name, a unit and one or more values.
public struct Metric: Sendable, Equatable {
    /// The metric's name in CloudWatch, also its member name in the EMF document.
    public var name: String
    /// The metric's unit.
    public var unit: MetricUnit
    /// The values; EMF accepts up to 100 per metric in one document.
    public var values: [Double]

    /// Creates a metric with one value.
    public init(_ name: String, _ value: Double, unit: MetricUnit) {
        self.name = name
        self.unit = unit
        self.values = [value]
    }

    /// Creates a metric with several values (for example one latency per object of a batch).
    public init(_ name: String, values: [Double], unit: MetricUnit) {
        self.name = name
        self.unit = unit
        self.values = values
    }
}

/// Hand-written: swift-metrics has no EMF backend among the available packages.
///
/// Writes CloudWatch Embedded Metric Format documents, one JSON line each.
///
/// In Lambda, a line on standard output that is an EMF document becomes metrics without
/// any API call. The shape follows the specification
/// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
///
/// ```json
/// {"_aws":{"Timestamp":1764185000123,"CloudWatchMetrics":[{"Namespace":"S3ClamAVScanner",
///   "Dimensions":[["Verdict"]],"Metrics":[{"Name":"ObjectsScanned","Unit":"Count"}]}]},
///  "Verdict":"CLEAN","ObjectsScanned":1}
/// ```
///
/// Dimension values and properties are root members (strings); each metric's value is a
/// root member named after it. Programming errors in the metric set (more than 30
/// dimensions, more than 100 metrics or values, a name used twice, an empty name) stop the
/// process with a message, since no valid document can be written for them.
public struct MetricsEmitter: Sendable {
    /// The CloudWatch namespace of every metric written.
    public let namespace: String
    /// Dimensions added to every document (for example the service name).
    public let defaultDimensions: [String: String]

    private let sink: LineSink
    private let clock: @Sendable () -> Date

    /// The most dimensions one dimension set may hold (EMF specification).
    public static let maximumDimensions = 30
    /// The most metrics one directive may hold, and the most values one metric may hold.
    public static let maximumMetrics = 100

    /// Creates an emitter.
    /// - Parameters:
    ///   - namespace: the CloudWatch namespace.
    ///   - defaultDimensions: dimensions added to every document.
    ///   - sink: where the lines go; standard output unless a test injects a buffer.
    ///   - clock: the source of `_aws.Timestamp`; injectable so tests can fix it.
    public init(
        namespace: String,
        defaultDimensions: [String: String] = [:],
        sink: LineSink = .standardOutput,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        precondition(!namespace.isEmpty, "EMF namespace must not be empty")
        self.namespace = namespace
        self.defaultDimensions = defaultDimensions
        self.sink = sink
        self.clock = clock
    }

    /// Writes one EMF document holding `metrics`.
    /// - Parameters:
    ///   - metrics: the metrics and their values; nothing is written when empty.
    ///   - dimensions: dimension names and values for this document, added to the defaults
    ///     (a name given here wins).
    ///   - rollups: the dimension sets to aggregate by, each listing names of `dimensions`;
    ///     the default dimensions are part of every set. `nil` makes one set of all of them.
    ///     `[[], ["Verdict"]]` gives `[["Service"], ["Service","Verdict"]]`: an alarm on the
    ///     service alone and a graph per verdict from one line.
    ///   - properties: extra string members that are searchable in Logs Insights but are
    ///     not dimensions (for example a request ID).
    public func emit(
        _ metrics: [Metric],
        dimensions: [String: String] = [:],
        rollups: [[String]]? = nil,
        properties: [String: String] = [:]
    ) {
        guard !metrics.isEmpty else { return }
        let allDimensions = defaultDimensions.merging(dimensions) { _, new in new }
        let base = defaultDimensions.keys.filter { dimensions[$0] == nil }.sorted()
        let sets = (rollups ?? [dimensions.keys.sorted()]).map { base + $0 }
        sink.write(render(metrics, dimensions: allDimensions, dimensionSets: sets, properties: properties, timestamp: clock()))
    }

    /// Renders one document; separate from `emit` so the format can be tested alone.
    func render(
        _ metrics: [Metric],
        dimensions: [String: String],
        dimensionSets: [[String]]? = nil,
        properties: [String: String],
        timestamp: Date
    ) -> String {
        precondition(dimensions.count <= Self.maximumDimensions, "EMF allows at most 30 dimensions")
        precondition(metrics.count <= Self.maximumMetrics, "EMF allows at most 100 metrics per document")
        var names = Set<String>()
        for name in dimensions.keys.sorted() + metrics.map(\.name) + properties.keys.sorted() {
            precondition(!name.isEmpty, "EMF member names must not be empty")
            precondition(names.insert(name).inserted, "EMF member '\(name)' is used twice")
        }
        precondition(!names.contains("_aws"), "EMF member name '_aws' is reserved")
        let sets = dimensionSets ?? [dimensions.keys.sorted()]
        for set in sets {
            precondition(set.allSatisfy { dimensions[$0] != nil }, "EMF dimension set \(set) names a dimension without a value")
        }

        let milliseconds = Int64((timestamp.timeIntervalSince1970 * 1000).rounded())
        let dimensionNames = dimensions.keys.sorted()

        var line = "{\"_aws\":{\"Timestamp\":\(milliseconds),\"CloudWatchMetrics\":[{\"Namespace\":"
        JSONText.appendString(namespace, to: &line)
        line.append(",\"Dimensions\":[")
        for (setIndex, set) in sets.enumerated() {
            if setIndex > 0 { line.append(",") }
            line.append("[")
            for (index, name) in set.enumerated() {
                if index > 0 { line.append(",") }
                JSONText.appendString(name, to: &line)
            }
            line.append("]")
        }
        line.append("],\"Metrics\":[")
        for (index, metric) in metrics.enumerated() {
            if index > 0 { line.append(",") }
            line.append("{\"Name\":")
            JSONText.appendString(metric.name, to: &line)
            line.append(",\"Unit\":")
            JSONText.appendString(metric.unit.rawValue, to: &line)
            line.append("}")
        }
        line.append("]}]}")

        for name in dimensionNames {
            line.append(",")
            JSONText.appendString(name, to: &line)
            line.append(":")
            JSONText.appendString(dimensions[name]!, to: &line)
        }
        for metric in metrics {
            precondition(!metric.values.isEmpty, "EMF metric '\(metric.name)' has no value")
            precondition(metric.values.count <= Self.maximumMetrics, "EMF allows at most 100 values per metric")
            line.append(",")
            JSONText.appendString(metric.name, to: &line)
            line.append(":")
            if metric.values.count == 1 {
                JSONText.appendNumber(metric.values[0], to: &line)
            } else {
                line.append("[")
                for (index, value) in metric.values.enumerated() {
                    if index > 0 { line.append(",") }
                    JSONText.appendNumber(value, to: &line)
                }
                line.append("]")
            }
        }
        for name in properties.keys.sorted() {
            line.append(",")
            JSONText.appendString(name, to: &line)
            line.append(":")
            JSONText.appendString(properties[name]!, to: &line)
        }
        line.append("}")
        return line
    }
}
