import ArgumentParser
import AWSClients
import AsyncHTTPClient
import ClamAV
import Foundation
import LambdaRuntime
import Logging
import ServiceSupport

@main
struct UpdaterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "definition-updater",
        abstract: "Updates the ClamAV database in the definitions bucket with freshclam.",
        subcommands: [PublishCommand.self]
    )
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
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, logLevel: .info) }
        let logger = Logger(label: "definition-updater")
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
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let store = S3Client(settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)
            let target = DefinitionsBucket(store: store, bucket: bucket, prefix: reader.prefix("DEFINITIONS_PREFIX", default: "clamav/"), logger: logger)
            let publication = try await target.publish(engine)
            print("published \(publication.manifest.version) to s3://\(bucket)/\(target.prefix) (uploaded: \(publication.uploaded.joined(separator: ", ")))")
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
        try await httpClient.shutdown()
    }
}
