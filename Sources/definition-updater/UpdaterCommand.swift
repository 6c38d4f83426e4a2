import ArgumentParser
import AWSClients
import AsyncHTTPClient
import ClamAV
import Foundation
import LambdaRuntime
import Logging
import NIOCore
import NIOFoundationCompat
import ServiceSupport
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
        guard environment["AWS_LAMBDA_RUNTIME_API"] != nil else {
            throw ValidationError("AWS_LAMBDA_RUNTIME_API is not set: outside Lambda, use a subcommand (run, publish)")
        }
        let logger = bootstrapLogging(environment)
        let status = await LambdaRuntime.run(environment: environment, logger: logger) { logger in
            let service = try UpdaterService(environment: environment, logger: logger)
            return { _, _ in
                let summary = try await service.run()
                // A cool-down or a run within MIN_UPDATE_INTERVAL is expected and not retried;
                // other failures fail the invocation so that alarms and retries see them.
                if summary.failed { throw UpdateRunFailed(summary: summary) }
                return ByteBuffer(data: try encode(summary))
            }
        }
        throw ExitCode(status)
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
        let logger = bootstrapLogging(environment)
        let service: UpdaterService
        do {
            service = try UpdaterService(environment: environment, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("definition-updater: configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
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
        if summary.outcome == "COOLDOWN" || summary.outcome == "TOO_SOON" { throw ExitCode(3) }
    }
}

/// A failed update, reported to Lambda as the invocation's error.
struct UpdateRunFailed: Error, CustomStringConvertible {
    let summary: UpdateRunSummary
    var description: String { "\(summary.outcome): \(summary.message ?? "")" }
}

func encode(_ summary: UpdateRunSummary) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return try encoder.encode(summary)
}

func bootstrapLogging(_ environment: [String: String]) -> Logger {
    let level = environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
    LoggingSystem.bootstrap { label in JSONLogHandler(label: label, logLevel: level) }
    return Logger(label: "definition-updater")
}

/// `definition-updater publish --database DIR`: validate a local database folder and publish
/// it to the definitions bucket (custom signatures, air-gapped set-ups, tests).
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Validate a local ClamAV database folder and publish it, manifest.json last.",
        discussion: "Reads DEFINITIONS_BUCKET, DEFINITIONS_PREFIX and the AWS settings from the environment."
    )

    @Option(name: .long, help: ArgumentHelp("The database folder.", valueName: "DIR"))
    var database: String

    @Option(name: .long, help: ArgumentHelp("A sample the database must detect before it is published.", valueName: "FILE"))
    var canary: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = bootstrapLogging(environment)
        let reader = EnvironmentReader(environment)
        let settings: AWSSettings
        let bucket: String
        do {
            bucket = try reader.required("DEFINITIONS_BUCKET")
            settings = try AWSSettings(environment: environment)
        } catch {
            throw ValidationError("configuration: \(error)")
        }
        let engine: ClamAVEngine
        do {
            engine = try await ClamAVEngine.load(databaseDirectory: database)
            if let canary {
                let result = try await engine.scan(fileAtPath: canary)
                guard result.verdict == .infected else {
                    throw ValidationError("the database in \(database) does not detect the canary \(canary) (\(result.verdict.rawValue))")
                }
            }
        } catch let error as ClamAVError {
            throw ValidationError("\(error)")
        }
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .forAWSClients())
        do {
            let store = S3Client(settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)
            let target = DefinitionsBucket(store: store, bucket: bucket, prefix: reader.prefix("DEFINITIONS_PREFIX", default: "clamav/"), logger: logger)
            let publication = try await target.publish(engine.database)
            print("published \(publication.manifest.version) to s3://\(bucket)/\(target.prefix) (uploaded: \(publication.uploaded.joined(separator: ", ")))")
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
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
        let configuration: UpdaterConfiguration
        do {
            configuration = try UpdaterConfiguration(environment: environment)
            _ = try AWSSettings(environment: environment)
        } catch {
            FileHandle.standardError.write(Data("definition-updater: configuration: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
    }
}
