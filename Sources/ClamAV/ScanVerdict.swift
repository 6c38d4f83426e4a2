/// The verdict every scanned object ends in (docs/design.md, "Verdicts and tags").
public enum ScanVerdict: String, Sendable, Codable, CaseIterable {
    /// Scanned completely, nothing found.
    case clean = "CLEAN"
    /// A signature matched.
    case infected = "INFECTED"
    /// Not scanned completely: a limit was exceeded or the content is encrypted. Never clean.
    case unscannable = "UNSCANNABLE"
    /// Scanned completely and nothing found, but libclamav's type for it is not one the file-type
    /// policy allows where it was uploaded. Never clean.
    case blocked = "BLOCKED"
    /// The scan failed (download, engine, definitions).
    case error = "ERROR"

    /// Whether a scan with the same definitions would end the same way: every verdict but
    /// `ERROR`, which a retry scans again.
    public var isFinal: Bool { self != .error }
}

/// The outcome of scanning one file.
public struct ScanResult: Sendable, Equatable {
    /// The verdict.
    public let verdict: ScanVerdict
    /// The name of the matching signature (for an unscannable file, the heuristic that fired).
    public let signature: String?
    /// Why a file is unscannable or failed; `nil` for clean and infected files.
    public let reason: String?
    /// Whether the scan was cut short by its deadline (the file is then unscannable).
    public let outOfTime: Bool
    /// The file's type as libclamav's type detection names it (`PNG`, `PDF`, `MSEXE`, `ZIP`,
    /// ..., its `CL_TYPE_` names without the prefix), when the scan got that far.
    public let fileType: String?

    /// Creates a result.
    public init(verdict: ScanVerdict, signature: String? = nil, reason: String? = nil, outOfTime: Bool = false, fileType: String? = nil) {
        self.verdict = verdict
        self.signature = signature
        self.reason = reason
        self.outOfTime = outOfTime
        self.fileType = fileType
    }

    /// The same result with the file type libclamav detected.
    func detected(_ fileType: String?) -> ScanResult {
        ScanResult(verdict: verdict, signature: signature, reason: reason, outOfTime: outOfTime, fileType: fileType)
    }

    /// Classifies the detections libclamav reported for one file.
    ///
    /// libclamav reports limit and encryption heuristics as detections named
    /// `Heuristics.Limits.Exceeded.*` and `Heuristics.Encrypted.*`. A real signature wins
    /// over them; when only those fired, the file is unscannable, with a reason that says
    /// which limit or which kind of encrypted content. A detection without a name (seen with
    /// the size-limit alert) is unscannable too: something alerted, but nothing names a threat.
    public static func classify(detections: [String]) -> ScanResult {
        if let threat = detections.first(where: { !isLimit($0) && !isEncryption($0) }) {
            return ScanResult(verdict: .infected, signature: threat)
        }
        if let limit = detections.first(where: isLimit) {
            let which = limit.dropFirst(limitPrefix.count)
            return ScanResult(verdict: .unscannable, signature: limit, reason: "scan limit exceeded: \(which)")
        }
        if let encrypted = detections.first(where: isEncryption) {
            let which = encrypted.dropFirst(encryptionPrefix.count)
            return ScanResult(verdict: .unscannable, signature: encrypted, reason: "encrypted content: \(which)")
        }
        return ScanResult(verdict: .unscannable, reason: "libclamav reported a detection without a name")
    }

    private static let limitPrefix = "Heuristics.Limits.Exceeded."
    private static let encryptionPrefix = "Heuristics.Encrypted."

    /// Whether `name` is one of the heuristics that say a file was not scanned completely.
    static func isHeuristic(_ name: String) -> Bool { isLimit(name) || isEncryption(name) }

    private static func isLimit(_ name: String) -> Bool { name.hasPrefix(limitPrefix) }
    private static func isEncryption(_ name: String) -> Bool { name.hasPrefix(encryptionPrefix) }
}
