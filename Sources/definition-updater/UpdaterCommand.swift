import AWSClients
import ArgumentParser
import Environment
import Foundation
import Lambda
import Logging
import NIOCore
import NIOFoundationCompat
import Observability
import ServiceLifecycle
import UpdaterCore

@main
struct UpdaterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "definition-updater",
        abstract: "Updates the ClamAV database in the definitions bucket with freshclam.",
        discussion: """
            With no subcommand inside AWS Lambda (AWS_LAMBDA_RUNTIME_API set), every invocation \
            (the daily schedule, the deploy-time run) is one update.
            """,
        subcommands: [RunCommand.self, PublishCommand.self, CheckConfigCommand.self]
    )

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard LambdaRuntime.isInsideLambda(environment) else {
            throw ValidationError("AWS_LAMBDA_RUNTIME_API is not set: outside Lambda, use a subcommand (run, publish)")
        }
        let logger = try StartUp.logger(environment)
        let runtime = try LambdaRuntime(
            environment: environment, logger: logger,
            start: { logger in try UpdaterService(environment: environment, logger: logger) },
            handler: { service in
                { _, _ in
                    let summary = try await service.run()
                    // A cool-down or a run within MIN_UPDATE_INTERVAL is expected and not retried;
                    // other failures fail the invocation so that alarms and retries see them.
                    if summary.failed, case .failed(let failure) = summary.outcome { throw failure }
                    return ByteBuffer(data: try encode(summary))
                }
            },
            shutdown: { service in try await service.shutdown() })
        try await ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
    }
}

/// `definition-updater run`: one update, as the scheduled invocation does it.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one update and print its outcome as JSON.",
        discussion: "Exit status: 0 when updated or up to date, 1 when the update failed, 3 when it was not attempted (cool-down, too soon)."
    )

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try StartUp.logger(environment)
        let service = try StartUp.configuration { try UpdaterService(environment: environment, logger: logger) }
        let summary: UpdateRunSummary
        do {
            summary = try await service.run()
        } catch {
            try? await service.shutdown()
            FileHandle.standardError.write(Data("definition-updater: \(error)\n".utf8))
            throw ExitCode(1)
        }
        try await service.shutdown()
        print(String(decoding: try encode(summary), as: UTF8.self))
        if summary.failed { throw ExitCode(1) }
        if case .failed = summary.outcome { throw ExitCode(3) }
    }
}

func encode(_ summary: UpdateRunSummary) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(summary)
}

/// `definition-updater publish --database DIR`: validate a local database folder and publish
/// it to the definitions bucket (custom signatures, air-gapped set-ups, tests), through the
/// same checks as a scheduled run.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Validate a local ClamAV database folder and publish it, manifest.json last.",
        discussion: """
            Reads the updater's configuration from the environment. The database must load, detect \
            the canary (--canary, else CANARY_FILE, else the EICAR test file) and be no older than \
            the published one. Exit status: 0 when published (or unchanged), 1 when refused or failed, \
            2 for a configuration error.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The database folder.", valueName: "DIR"))
    var database: String

    @Option(name: .long, help: ArgumentHelp("A sample the database must detect before it is published.", valueName: "FILE"))
    var canary: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = try StartUp.logger(environment)
        let service = try StartUp.configuration { try UpdaterService(environment: environment, logger: logger) }
        do {
            let publication = try await service.publish(databaseDirectory: database, canary: canary)
            try await service.shutdown()
            print("published \(publication.manifest.version) (uploaded: \(publication.uploaded.joined(separator: ", ")))")
        } catch {
            try? await service.shutdown()
            FileHandle.standardError.write(Data("definition-updater: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `definition-updater check-config`: the configuration start-up would read, or the variable at fault.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Read the configuration from the environment as start-up does and print it as JSON.",
        discussion: "Exit status: 0 when it is valid, 2 with a message naming the variable when it is not."
    )

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration = try StartUp.configuration {
            _ = try LoggingConfiguration(EnvironmentReader(environment))
            _ = try AWSSettings(environment: environment)
            return try UpdaterConfiguration(environment: environment)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
    }
}

/// Start-up shared by the commands: a configuration error ends the process with status 2 and
/// a message naming the variable.
enum StartUp {
    /// JSON log lines on standard error at `LOG_LEVEL`.
    static func logger(_ environment: [String: String]) throws -> Logger {
        try configuration { try LoggingConfiguration(EnvironmentReader(environment)) }.bootstrap(label: "definition-updater")
    }

    static func configuration<T>(_ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch {
            FileHandle.standardError.write(Data("definition-updater: configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
