/// The EventBridge events this product publishes (docs/design.md, "Events").
public enum BusEvent {
    /// The `source` of every event.
    public static let source = "s3-clamav-scanner"

    /// The `detail-type` values.
    public enum DetailType: String, Sendable, CaseIterable {
        /// Every verdict (clean results can be switched off).
        case objectScanResult = "Object Scan Result"
        /// A scan that ended in `ERROR`, or an input record that could not be used.
        case objectScanFailed = "Object Scan Failed"
        /// The updater published a new database.
        case definitionsUpdated = "Definitions Updated"
        /// The updater could not update; the detail says why.
        case definitionsUpdateFailed = "Definitions Update Failed"
        /// The scanner found its database older than the configured age.
        case definitionsStale = "Definitions Stale"
    }
}
