import ClamAV
import Observability

/// The scanner's CloudWatch metrics, as Embedded Metric Format lines in the namespace
/// `S3ClamAVScanner` (objects scanned, bytes, latency and errors, per service and per service
/// and verdict; definitions age per service). The emitter's default dimension is `Service`.
public struct ScanMetrics: Sendable {
    /// The namespace Terraform's alarms watch.
    public static let namespace = "S3ClamAVScanner"

    let emitter: MetricsEmitter?

    /// Metrics written by `emitter`; `nil` writes none (the local CLI).
    public init(emitter: MetricsEmitter?) {
        self.emitter = emitter
    }

    /// EMF lines on standard output in this namespace, with the `Service` dimension.
    public static func emitter(service: String) -> MetricsEmitter {
        MetricsEmitter(namespace: namespace, defaultDimensions: ["Service": service])
    }

    /// One object's verdict.
    public func record(verdict: ScanVerdict, bytes: Int64, milliseconds: Int) {
        emitter?.emit(
            [
                Metric("ObjectsScanned", 1, unit: .count),
                Metric("BytesScanned", Double(bytes), unit: .bytes),
                Metric("ScanDuration", Double(milliseconds), unit: .milliseconds),
                Metric("ScanErrors", verdict == .error ? 1 : 0, unit: .count),
            ],
            dimensions: ["Verdict": verdict.rawValue],
            rollups: [[], ["Verdict"]]
        )
    }

    /// The age of the loaded database.
    public func record(definitionsAgeHours: Double) {
        emitter?.emit([Metric("DefinitionsAgeHours", definitionsAgeHours, unit: .none)], rollups: [[]])
    }
}
