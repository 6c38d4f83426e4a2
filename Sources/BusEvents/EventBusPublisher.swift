import AWSClients
import Environment
import Foundation
import Logging

/// Where events go: the seam in front of EventBridge. `EventBridgeClient` is the production conformer.
public protocol EventPublishing: Sendable {
    /// Publishes the entries; throws when any entry failed.
    func putEvents(_ entries: [EventBridgeEntry]) async throws -> [String]
}

extension EventBridgeClient: EventPublishing {}

/// Publishes the scanner's and the updater's events to the custom bus, or logs once that none
/// are published when `EVENT_BUS_NAME` is unset (docs/design.md, "Configuration").
///
/// Publishing is best effort after the client's own retries: a result event that cannot be
/// published is logged as an error, and the object keeps the verdict and action it got.
public struct EventBusPublisher: Sendable {
    let busName: String?
    let publisher: (any EventPublishing)?
    let logger: Logger

    /// Creates a publisher; with no bus name or no client, events are only logged.
    public init(busName: String?, publisher: (any EventPublishing)?, logger: Logger) {
        self.busName = busName
        self.publisher = busName == nil ? nil : publisher
        self.logger = logger
        if busName == nil {
            logger.notice("EVENT_BUS_NAME is not set: no events are published")
        }
    }

    /// The custom bus (`EVENT_BUS_NAME`); `nil` when unset: no events are published.
    public static func busName(_ reader: EnvironmentReader) -> String? {
        reader.optional("EVENT_BUS_NAME")
    }

    /// Publishes one event whose detail is `detail` encoded as JSON.
    public func publish(_ type: BusEvent.DetailType, detail: Data, resources: [String] = []) async {
        guard let publisher, let busName else { return }
        let entry = EventBridgeEntry(
            eventBusName: busName, source: BusEvent.source, detailType: type.rawValue,
            detail: String(decoding: detail, as: UTF8.self), resources: resources
        )
        do {
            _ = try await publisher.putEvents([entry])
        } catch {
            logger.error("cannot publish an event", metadata: ["detailType": "\(type.rawValue)", "error": "\(error)"])
        }
    }

    /// Publishes a JSON-encodable detail.
    public func publish(_ type: BusEvent.DetailType, _ detail: some Encodable, resources: [String] = []) async {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            await publish(type, detail: try encoder.encode(detail), resources: resources)
        } catch {
            logger.error("cannot encode an event", metadata: ["detailType": "\(type.rawValue)", "error": "\(error)"])
        }
    }
}
