import AWSClients
import BusEvents
import ClamAV
import Definitions
import Foundation
import Logging

/// How one object ended.
public struct ObjectOutcome: Sendable, Equatable {
    /// The object as the event named it, completed with the version and ETag that were scanned.
    public let object: ObjectRef
    /// The verdict; `nil` when the object was skipped.
    public let verdict: ScanVerdict?
    /// What was done.
    public let action: ScanAction
    /// The signature that matched (or the heuristic that made it unscannable).
    public let signature: String?
    /// Why the object is unscannable, failed or skipped.
    public let reasons: [String]
    /// Why the object was skipped (deleted or replaced meanwhile, already scanned).
    public let skipped: String?
    /// libclamav's type for the object, when the scan got that far.
    public var fileType: String? = nil

    /// Whether the unit of work that holds this object must be retried.
    public var failed: Bool { verdict == .error }

    static func skip(_ object: ObjectRef, _ why: String) -> ObjectOutcome {
        ObjectOutcome(object: object, verdict: nil, action: .none, signature: nil, reasons: [why], skipped: why)
    }

    /// Sent to another queue to be scanned there: no verdict here.
    static func handedOver(_ object: ObjectRef, _ why: String) -> ObjectOutcome {
        ObjectOutcome(object: object, verdict: nil, action: .handedOver, signature: nil, reasons: [why], skipped: why)
    }
}

/// Scans one object version: head, download, scan, act, publish (docs/design.md, "Verdicts and tags").
public struct ObjectScanWorkflow: Sendable {
    let configuration: ScannerConfiguration
    let workDirectory: String
    let store: any ObjectStore
    let definitions: DefinitionsProvider
    let events: EventBusPublisher
    let metrics: ScanMetrics
    let logger: Logger
    /// Sends objects over `MAX_OBJECT_SIZE` to `LARGE_OBJECT_QUEUE_URL`.
    let sender: (any MessageSender)?

    /// Creates the workflow; downloads go into `workDirectory`, a folder private to this
    /// process.
    public init(
        configuration: ScannerConfiguration, workDirectory: String, store: any ObjectStore, definitions: DefinitionsProvider,
        events: EventBusPublisher, metrics: ScanMetrics, logger: Logger, sender: (any MessageSender)? = nil
    ) {
        self.configuration = configuration
        self.workDirectory = workDirectory
        self.store = store
        self.definitions = definitions
        self.events = events
        self.metrics = metrics
        self.logger = logger
        self.sender = sender
    }

    /// What an invocation keeps for applying and publishing a verdict after the scan: a
    /// tag write (or a delete) and up to two events, each with the client's retries.
    static let actionReserve: Duration = .seconds(10)
    /// What an invocation keeps, after everything, to send its response.
    static let responseReserve: Duration = .seconds(1)

    /// Scans one object and returns how it ended; never throws: failures are `ERROR` outcomes.
    /// `logger` carries the invocation's metadata (request ID, trace ID) when there is one.
    ///
    /// With a `deadline` (the Lambda invocation's), the download and the scan end
    /// ``actionReserve`` before it so that the verdict is applied and published in time, and
    /// everything ends ``responseReserve`` before it. The scan's own budget is also
    /// `MAX_SCAN_TIME`: an object that needs more is `UNSCANNABLE`; an object cut short only
    /// because the invocation had less time left is `ERROR`, so that a retry scans it with a
    /// full budget.
    public func process(_ requested: ObjectRef, logger requestLogger: Logger? = nil, deadline: ContinuousClock.Instant? = nil) async -> ObjectOutcome
    {
        let clock = ContinuousClock()
        let started = clock.now
        var logger = requestLogger ?? logger
        logger[metadataKey: "bucket"] = "\(requested.bucket)"
        logger[metadataKey: "key"] = "\(requested.key)"
        if let version = requested.versionID { logger[metadataKey: "versionID"] = "\(version)" }
        let scanDeadline = deadline.map { $0 - Self.actionReserve }
        let workflow = self
        let reportLogger = logger

        do {
            return try await bounded(by: deadline.map { $0 - Self.responseReserve }) {
                let outcome: ObjectOutcome
                var loadedVersion: DefinitionsManifest?
                do {
                    let (result, manifest) = try await workflow.scanAndAct(requested, scanDeadline: scanDeadline, logger: reportLogger)
                    outcome = result
                    loadedVersion = manifest
                } catch let failure as ScanFailure {
                    outcome = await workflow.fail(failure.object ?? requested, failure.reason, logger: reportLogger)
                    loadedVersion = failure.manifest
                } catch {
                    outcome = await workflow.fail(requested, "\(error)", logger: reportLogger)
                }
                let elapsed = started.duration(to: clock.now)
                let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                await workflow.report(outcome, manifest: loadedVersion, milliseconds: milliseconds, logger: reportLogger)
                return outcome
            }
        } catch {
            let reason = "the invocation's deadline came before the verdict could be applied and published"
            logger.error("object scan failed", metadata: ["verdict": "ERROR", "reason": "\(reason)"])
            return ObjectOutcome(object: requested, verdict: .error, action: .none, signature: nil, reasons: [reason], skipped: nil)
        }
    }

    private struct ScanFailure: Error {
        let object: ObjectRef?
        let reason: String
        let manifest: DefinitionsManifest?
    }

    private func scanAndAct(
        _ requested: ObjectRef, scanDeadline: ContinuousClock.Instant?, logger: Logger
    ) async throws -> (ObjectOutcome, DefinitionsManifest?) {
        if let quarantine = configuration.quarantineBucket, requested.bucket == quarantine {
            return (.skip(requested, "the object is in the quarantine bucket, which the scanner writes"), nil)
        }
        if let why = configuration.filters?.exclusion(bucket: requested.bucket, key: requested.key, size: requested.size) {
            return (.skip(requested, "not scanned: \(why)"), nil)
        }
        guard var definitions = await definitions.current() else {
            throw ScanFailure(object: requested, reason: "no usable ClamAV database is loaded", manifest: nil)
        }
        if let needed = requested.definitionsNeeded, !needed.isMetBy(definitions.manifest) {
            // A rescan for definitions this process has not loaded yet: load them now, or fail
            // so that the message comes back (scanning with the old ones would prove nothing).
            // The old engine is let go first: a reload may wait for it to be freed.
            let loadedVersion = definitions.manifest.version
            definitions = try await self.newer(than: loadedVersion, needed: needed, for: requested)
        }
        let manifest = definitions.manifest
        if let scanDeadline, ContinuousClock.now >= scanDeadline {
            throw ScanFailure(object: requested, reason: "no time was left in the invocation to scan it", manifest: manifest)
        }

        // The object, in one GET pinned to the version the event names, with its tags read
        // beside it; an object the event already says is too large is only headed.
        let path = (workDirectory as NSString).appendingPathComponent("object-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fetched: Fetched
        do {
            fetched = try await fetch(requested, to: path, scanDeadline: scanDeadline, manifest: manifest)
        } catch let error as AWSError where error.isNotFound {
            return (.skip(requested, "the object no longer exists"), manifest)
        } catch let error as AWSError where error.isPreconditionFailed {
            return (.skip(requested, "the object was replaced before it was downloaded; the new content has its own event"), manifest)
        } catch let error as AWSError where error.isAccessDenied {
            // Without s3:ListBucket, S3 answers 403 for a missing key as for a denied one:
            // the two cannot be told apart, so this is a failure to retry, never a skip.
            throw ScanFailure(
                object: requested,
                reason: "S3 denied reading the object (403): the scanner needs s3:GetObject (and s3:GetObjectVersion), s3:ListBucket on the bucket "
                    + "(without it S3 answers 403 for a missing key), no bucket policy denying it, and kms:Decrypt for KMS-encrypted objects",
                manifest: manifest
            )
        } catch let error as AWSError {
            throw ScanFailure(object: requested, reason: "download failed: \(error)", manifest: manifest)
        }
        let object = fetched.object
        if let why = configuration.filters?.exclusion(bucket: object.bucket, key: object.key, size: object.size) {
            return (.skip(object, "not scanned: \(why)"), manifest)
        }

        var result: ScanResult
        let existingTags: [S3Tag]
        if !fetched.downloaded, let queue = configuration.largeObjectQueueURL {
            // Too large for this process (a Lambda function's disk): the worker scans it.
            guard let sender else {
                throw ScanFailure(object: object, reason: "LARGE_OBJECT_QUEUE_URL is set but nothing can send", manifest: manifest)
            }
            do {
                try await sender.sendMessageBatch(queueURL: queue, bodies: [object.notification])
            } catch {
                throw ScanFailure(object: object, reason: "cannot hand the object to LARGE_OBJECT_QUEUE_URL: \(error)", manifest: manifest)
            }
            return (
                .handedOver(
                    object,
                    "it is \(object.size ?? 0) bytes, over MAX_OBJECT_SIZE (\(configuration.maxObjectSize)): handed to the large-object queue"),
                manifest
            )
        } else if !fetched.downloaded {
            existingTags = try await tags(of: object, read: fetched.tags)
            if let skip = alreadyScanned(object, tags: existingTags, manifest: manifest) { return (skip, manifest) }
            result = ScanResult(
                verdict: .unscannable, reason: "the object is \(object.size ?? 0) bytes, over MAX_OBJECT_SIZE (\(configuration.maxObjectSize))")
        } else {
            existingTags = try await tags(of: object, read: fetched.tags)
            if let skip = alreadyScanned(object, tags: existingTags, manifest: manifest) { return (skip, manifest) }
            let scanStarted = ContinuousClock.now
            do {
                result = try await definitions.engine.scan(fileAtPath: path, deadline: scanDeadline)
            } catch {
                throw ScanFailure(object: object, reason: "scan failed: \(error)", manifest: manifest)
            }
            if result.outOfTime, let scanDeadline,
                scanDeadline < scanStarted + .milliseconds(configuration.limits.maxScanTimeMilliseconds)
            {
                throw ScanFailure(
                    object: object,
                    reason: "the invocation's deadline cut the scan short (\(result.reason ?? "out of time")); a retry scans it again",
                    manifest: manifest
                )
            }
            // An unversioned object may be overwritten while it is scanned: every action below
            // is conditional on the scanned entity tag, or confirmed after it (``act``).
            result = applyFileTypePolicy(result, to: object)
        }
        do {
            return (try await act(on: object, result: result, existingTags: existingTags, manifest: manifest), manifest)
        } catch let error as AWSError where error.isNotFound {
            return (.skip(object, "the object was deleted before its verdict could be applied"), manifest)
        } catch let error as AWSError where error.isPreconditionFailed {
            return (.skip(object, "the object was replaced before its verdict could be applied; the new content has its own event"), manifest)
        } catch is Replaced {
            return (.skip(object, "the object was replaced while its verdict was applied; the new content has its own event"), manifest)
        } catch {
            throw ScanFailure(object: object, reason: "cannot apply the \(result.verdict.rawValue) verdict: \(error)", manifest: manifest)
        }
    }

    /// The definitions after a manifest check, when they meet `needed`.
    private func newer(than loadedVersion: String, needed: DefinitionsUpdate, for requested: ObjectRef) async throws -> LoadedDefinitions {
        await definitions.refresh()
        guard let newer = await definitions.current(), needed.isMetBy(newer.manifest) else {
            throw ScanFailure(
                object: requested,
                reason: "the rescan needs definitions \(needed.version) (published \(Timestamp.string(needed.publishedAt))) or newer; "
                    + "\(loadedVersion) is loaded",
                manifest: nil)
        }
        return newer
    }

    /// What ``fetch(_:to:scanDeadline:manifest:)`` found.
    private struct Fetched {
        /// The exact version, with its entity tag and size.
        let object: ObjectRef
        /// Whether its bytes are in the file (false: it is over `MAX_OBJECT_SIZE`).
        let downloaded: Bool
        /// Its tags, when they were read beside the download for this very version.
        let tags: [S3Tag]?
    }

    /// Downloads the version the event names (or the current one) in one GET, not reading an
    /// object over `MAX_OBJECT_SIZE`, while its tags are read. Throws S3's errors as they are
    /// (404, 412, 403) for the caller to sort.
    private func fetch(_ requested: ObjectRef, to path: String, scanDeadline: ContinuousClock.Instant?, manifest: DefinitionsManifest) async throws
        -> Fetched
    {
        func exact(_ metadata: S3ObjectMetadata) -> ObjectRef {
            ObjectRef(
                bucket: requested.bucket, key: requested.key, versionID: metadata.versionID ?? requested.versionID, eTag: metadata.eTag,
                size: metadata.size, trigger: requested.trigger, definitionsNeeded: requested.definitionsNeeded)
        }
        if let size = requested.size, size > configuration.maxObjectSize {
            let head = try await store.headObject(bucket: requested.bucket, key: requested.key, versionID: requested.versionID, ifMatch: nil)
            if head.size > configuration.maxObjectSize { return Fetched(object: exact(head), downloaded: false, tags: nil) }
        }
        let store = self.store
        let maxSize = configuration.maxObjectSize
        async let tagsRead = store.getObjectTagging(bucket: requested.bucket, key: requested.key, versionID: requested.versionID)
        let got: S3DirectGet
        do {
            got = try await bounded(by: scanDeadline) {
                try await store.getObject(
                    bucket: requested.bucket, key: requested.key, versionID: requested.versionID, ifMatch: nil, maxSize: maxSize, to: path)
            }
        } catch is DeadlineReached {
            _ = try? await tagsRead
            throw ScanFailure(object: requested, reason: "the download did not finish before the invocation's deadline", manifest: manifest)
        } catch let error as AWSError {
            _ = try? await tagsRead
            throw error
        } catch {
            _ = try? await tagsRead
            throw ScanFailure(object: requested, reason: "download failed: \(error)", manifest: manifest)
        }
        let metadata: S3ObjectMetadata
        let downloaded: Bool
        switch got {
        case .downloaded(let found):
            (metadata, downloaded) = (found, true)
        case .tooLarge(let found):
            (metadata, downloaded) = (found, false)
        }
        let object = exact(metadata)
        // Tags read for the current version belong to the downloaded one only when the event
        // named it (or the bucket has no versions).
        let tags = object.versionID == requested.versionID ? try? await tagsRead : nil
        return Fetched(object: object, downloaded: downloaded, tags: tags)
    }

    /// At-least-once delivery: a version that already carries a final verdict for these
    /// definitions and this content is not scanned again, but only when the scanner can prove
    /// it wrote that verdict itself (``VerdictProof``): a verdict tag an uploader wrote, or one
    /// left on content that has since been replaced, is ignored and the object is scanned.
    private func alreadyScanned(_ object: ObjectRef, tags: [S3Tag], manifest: DefinitionsManifest) -> ObjectOutcome? {
        func tag(_ key: String) -> String? { tags.first { $0.key == key }?.value }
        guard let key = VerdictProof.key(base64: manifest.proofKey),
            let status = tag(configuration.tagKeys.status), ScanVerdict(rawValue: status)?.isFinal == true,
            let definitions = tag(configuration.tagKeys.definitions), definitions == ObjectTags.sanitize(manifest.version),
            let proof = tag(configuration.tagKeys.proof),
            VerdictProof.isValid(proof, key: key, object: object, status: status, definitions: definitions)
        else {
            return nil
        }
        return .skip(object, "already \(status) with definitions \(manifest.version) (verdict proven the scanner's own)")
    }

    /// The tags already read beside the download, else read now.
    private func tags(of object: ObjectRef, read: [S3Tag]?) async throws -> [S3Tag] {
        if let read { return read }
        return try await tags(of: object)
    }

    private func tags(of object: ObjectRef) async throws -> [S3Tag] {
        do {
            return try await store.getObjectTagging(bucket: object.bucket, key: object.key, versionID: object.versionID)
        } catch {
            throw ScanFailure(object: object, reason: "cannot read the object's tags: \(error)", manifest: nil)
        }
    }

    private func act(on object: ObjectRef, result: ScanResult, existingTags: [S3Tag], manifest: DefinitionsManifest) async throws -> ObjectOutcome {
        let reasons = result.reason.map { [$0] } ?? []
        func outcome(_ action: ScanAction) -> ObjectOutcome {
            ObjectOutcome(
                object: object, verdict: result.verdict, action: action, signature: result.signature, reasons: reasons, skipped: nil,
                fileType: result.fileType
            )
        }
        // An unversioned object can be replaced at any moment: every action is conditional on
        // the scanned entity tag, so a verdict never lands on content that was not scanned.
        let condition = object.versionID == nil ? object.eTag : nil
        let removal: VerdictAction? =
            result.verdict == .infected ? configuration.infectedAction : result.verdict == .blocked ? configuration.blockedAction : nil
        if let removal {
            switch removal {
            case .delete:
                _ = try await store.deleteObject(bucket: object.bucket, key: object.key, versionID: object.versionID, ifMatch: condition)
                return outcome(.deleted)
            case .quarantine(let quarantine):
                let tags = mergedTags([], result: result, object: object, manifest: manifest, keepSignature: true)
                _ = try await store.copyObject(
                    sourceBucket: object.bucket, sourceKey: object.key, sourceVersionID: object.versionID, sourceIfMatch: condition,
                    destinationBucket: quarantine, destinationKey: object.key, tags: tags
                )
                _ = try await store.deleteObject(bucket: object.bucket, key: object.key, versionID: object.versionID, ifMatch: condition)
                return outcome(.quarantined)
            case .tag:
                break
            }
        }
        let tags = mergedTags(existingTags, result: result, object: object, manifest: manifest, keepSignature: result.verdict != .clean)
        try await store.putObjectTagging(bucket: object.bucket, key: object.key, versionID: object.versionID, tags: tags)
        if object.versionID == nil, let eTag = object.eTag {
            // Tagging has no condition: confirm the tags went onto the scanned content.
            do {
                _ = try await store.headObject(bucket: object.bucket, key: object.key, versionID: nil, ifMatch: eTag)
            } catch let error as AWSError where error.isNotFound || error.isPreconditionFailed {
                try await withdraw(tags, from: object)
                throw Replaced()
            }
        }
        return outcome(.tagged)
    }

    /// The object was replaced while its verdict was applied.
    private struct Replaced: Error {}

    /// A clean object of a type its bucket or prefix does not accept becomes `BLOCKED`
    /// (`FILE_TYPE_POLICY`); an unknown type is never accepted.
    private func applyFileTypePolicy(_ result: ScanResult, to object: ObjectRef) -> ScanResult {
        guard result.verdict == .clean, let rule = configuration.fileTypePolicy?.rule(bucket: object.bucket, key: object.key) else {
            return result
        }
        guard let type = result.fileType, rule.allowed.contains(type) else {
            let allowed = rule.allowed.sorted().joined(separator: ", ")
            return ScanResult(
                verdict: .blocked,
                reason: "its type (\(result.fileType ?? "unknown")) is not allowed in s3://\(rule.bucket)/\(rule.prefix) (allowed: \(allowed))",
                fileType: result.fileType
            )
        }
        return result
    }

    /// Takes the verdict tags back off content that replaced the scanned content, unless the
    /// new content's own scan has written its verdict meanwhile (its proof differs). A race
    /// with that scan can at worst leave the new content without a status tag: downloads stay
    /// denied, never allowed.
    private func withdraw(_ written: [S3Tag], from object: ObjectRef) async throws {
        let proof = written.first { $0.key == configuration.tagKeys.proof }?.value
        let current: [S3Tag]
        do {
            current = try await store.getObjectTagging(bucket: object.bucket, key: object.key, versionID: nil)
        } catch let error as AWSError where error.isNotFound {
            return
        }
        guard current.first(where: { $0.key == configuration.tagKeys.proof })?.value == proof else { return }
        let kept = ObjectTags.withoutScannerTags(current.map { (key: $0.key, value: $0.value) }, keys: configuration.tagKeys)
        try await store.putObjectTagging(
            bucket: object.bucket, key: object.key, versionID: nil, tags: kept.map { S3Tag(key: $0.key, value: $0.value) })
        logger.warning(
            "the object was replaced while its verdict was applied; the verdict was taken back",
            metadata: [
                "bucket": "\(object.bucket)", "key": "\(object.key)", "eTag": "\(object.eTag ?? "-")",
            ])
    }

    private func mergedTags(_ existing: [S3Tag], result: ScanResult, object: ObjectRef, manifest: DefinitionsManifest?, keepSignature: Bool)
        -> [S3Tag]
    {
        let definitions = manifest.map { ObjectTags.sanitize($0.version) }
        var proof: String?
        if result.verdict.isFinal, let definitions, let key = VerdictProof.key(base64: manifest?.proofKey) {
            proof = VerdictProof.make(key: key, object: object, status: result.verdict.rawValue, definitions: definitions)
        }
        let merged = ObjectTags.merge(
            existing: existing.map { (key: $0.key, value: $0.value) },
            status: result.verdict.rawValue,
            proof: proof,
            definitions: definitions,
            signature: keepSignature ? result.signature : nil,
            fileType: result.verdict == .blocked ? result.fileType : nil,
            time: Timestamp.string(Date()),
            keys: configuration.tagKeys
        )
        if !merged.dropped.isEmpty {
            logger.warning("S3 keeps 10 tags: existing tags dropped for the scan tags", metadata: ["dropped": "\(merged.dropped)"])
        }
        return merged.tags.map { S3Tag(key: $0.key, value: $0.value) }
    }

    private func fail(_ object: ObjectRef, _ reason: String, logger: Logger) async -> ObjectOutcome {
        // Tag the failure when possible, so that a bucket policy keeps denying downloads and
        // the object shows why; a retry will scan it again (ERROR is not a final verdict).
        var action = ScanAction.none
        let result = ScanResult(verdict: .error, reason: reason)
        if let existing = try? await store.getObjectTagging(bucket: object.bucket, key: object.key, versionID: object.versionID),
            (try? await store.putObjectTagging(
                bucket: object.bucket, key: object.key, versionID: object.versionID,
                tags: mergedTags(existing, result: result, object: object, manifest: nil, keepSignature: false)
            )) != nil
        {
            action = .tagged
        }
        return ObjectOutcome(object: object, verdict: .error, action: action, signature: nil, reasons: [reason], skipped: nil)
    }

    private func report(_ outcome: ObjectOutcome, manifest: DefinitionsManifest?, milliseconds: Int, logger: Logger) async {
        var logger = logger
        if let skipped = outcome.skipped {
            logger.info("object skipped", metadata: ["reason": "\(skipped)"])
            return
        }
        guard let verdict = outcome.verdict else { return }
        logger[metadataKey: "verdict"] = "\(verdict.rawValue)"
        logger[metadataKey: "action"] = "\(outcome.action.rawValue)"
        logger[metadataKey: "durationMs"] = "\(milliseconds)"
        if let signature = outcome.signature { logger[metadataKey: "signature"] = "\(signature)" }
        if let fileType = outcome.fileType { logger[metadataKey: "fileType"] = "\(fileType)" }
        if !outcome.reasons.isEmpty { logger[metadataKey: "reason"] = "\(outcome.reasons.joined(separator: "; "))" }
        if verdict == .error { logger.error("object scan failed") } else { logger.info("object scanned") }
        metrics.record(verdict: verdict, bytes: outcome.object.size ?? 0, milliseconds: milliseconds)

        let detail = ScanResultDetail(
            object: outcome.object, verdict: verdict, action: outcome.action, signature: outcome.signature,
            reasons: outcome.reasons,
            definitions: manifest.map { .init(version: $0.version, publishedAt: $0.publishedAt) },
            durationMs: milliseconds, fileType: outcome.fileType, trigger: outcome.object.trigger
        )
        let resource = ["arn:aws:s3:::\(outcome.object.bucket)"]
        if verdict != .clean || configuration.publishCleanResults {
            await events.publish(.objectScanResult, detail, resources: resource)
        }
        if verdict == .error {
            await events.publish(.objectScanFailed, detail, resources: resource)
        }
    }
}
