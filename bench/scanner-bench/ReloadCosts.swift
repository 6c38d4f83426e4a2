import ArgumentParser
import Foundation
import Logging
import ScannerCore

/// `scanner-bench reload`: a hot reload measured while objects keep being scanned. The
/// scanner (configured from the environment: `DEFINITIONS_RELOAD`, a memory limit through
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`) loads the published database, then scans objects in a
/// loop while another process publishes `--next` and the scanner reloads: peak resident memory
/// of the reload, how long it took, how the objects fared meanwhile (the longest wait, how
/// many were scanned).
struct ReloadCosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Peak memory and object latency of a hot reload while objects are scanned (JSON).")

    @Option(help: ArgumentHelp("The bucket holding the objects.", valueName: "BUCKET"))
    var bucket: String

    @Option(help: ArgumentHelp("A file with one object key per line (scanned round and round).", valueName: "FILE"))
    var keys: String

    @Option(help: ArgumentHelp("The database folder to publish next (by `scanner-bench publish` in its own process).", valueName: "DIR"))
    var next: String

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        try await withScannerService(environment) { service in try await measure(service) }
    }

    private func measure(_ service: ScannerService) async throws {
        let keyList = try String(contentsOfFile: keys, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        // Nothing of the loaded definitions is kept: holding them would keep the old engine
        // alive, and an exclusive reload waits for it to be freed.
        guard await service.definitions.current() != nil else { throw ValidationError("no definitions were loaded") }
        let residentBefore = MemoryStatus.read()

        // Publish the next database from another process, so that its validation engine does
        // not count here.
        let publisher = Process()
        publisher.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        publisher.arguments = ["publish", "--database", next]
        publisher.standardOutput = FileHandle.standardError
        try publisher.run()
        publisher.waitUntilExit()
        guard publisher.terminationStatus == 0 else { throw ValidationError("publishing \(next) failed") }

        // Objects keep coming (one at a time) while the scanner reloads.
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let clock = ContinuousClock()
        let reloadStart = clock.now
        let reload = Task { await service.definitions.refresh() }
        var latencies: [Double] = []
        var index = 0
        var reloadSeconds: Double?
        while reloadSeconds == nil || latencies.count < 3 {
            let key = keyList[index % keyList.count]
            index += 1
            let start = clock.now
            let report = await service.processor.process(WorkUnit(messageID: nil, items: [.object(ObjectRef(bucket: bucket, key: key))]))
            guard let object = report.objects.first, object.verdict != .error else {
                throw ValidationError("\(key) failed during the reload: \(report.objects.first?.reasons ?? [])")
            }
            latencies.append((clock.now - start).seconds)
            // Asked without waiting for the reload (``DefinitionsProvider/current()`` would).
            if reloadSeconds == nil, await service.definitions.lastReload != nil {
                reloadSeconds = (clock.now - reloadStart).seconds
            }
        }
        await reload.value
        let after = MemoryStatus.read()
        let output: [String: JSONNumberOrString] = [
            "mode": .string(await service.definitions.lastReload?.rawValue ?? "none"),
            "memoryLimitMiB": .number(Double(ProcessInfo.processInfo.environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"].flatMap(Int.init) ?? 0)),
            "vmRSSBeforeKiB": .number(Double(residentBefore.rss)),
            "vmHWMDuringReloadKiB": .number(Double(after.vmHWM)),
            "reloadSeconds": .number(reloadSeconds ?? .nan),
            "objectsDuringReload": .number(Double(latencies.count)),
            "longestObjectSeconds": .number(latencies.max() ?? .nan),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
    }
}
