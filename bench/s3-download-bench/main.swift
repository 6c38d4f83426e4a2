import AWSClients
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOPosix

/// Downloads the same object with AWSClients and with `aws s3 cp` in one run and prints both
/// throughputs and their ratio. Not a test: run it through bench/s3-download.sh.
@main
struct S3DownloadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3-download-bench",
        abstract: "Compare S3 download throughput of AWSClients with the AWS CLI against one endpoint."
    )

    @Option(name: .customLong("size-mib"), help: "Object size in MiB.")
    var sizeMiB: Int = 1024

    @Option(help: "Rounds per client (interleaved).")
    var rounds: Int = 2

    @Option(help: "Bucket to create and use.")
    var bucket: String = "bench-downloads"

    @Option(help: "Folder for the source and downloaded files (needs 3 × the object size).")
    var workDirectory: String = NSTemporaryDirectory()

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings = try AWSSettings(environment: environment)
        guard let endpoint = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"] else {
            throw ValidationError("set AWS_ENDPOINT_URL (the benchmark only runs against a local emulator)")
        }
        let configuration = HTTPClient.Configuration.forAWSClients()
        let httpClient = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
        do {
            try await measure(httpClient: httpClient, settings: settings, endpoint: endpoint)
            try await httpClient.shutdown()
        } catch {
            try? await httpClient.shutdown()
            throw error
        }
    }

    func measure(httpClient: HTTPClient, settings: AWSSettings, endpoint: String) async throws {
        let s3 = S3Client(settings: settings, credentialsProvider: settings.makeCredentialsProvider(httpClient: httpClient), httpClient: httpClient)

        let directory = (workDirectory as NSString).appendingPathComponent("s3-download-bench-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let size = Int64(sizeMiB) << 20
        let source = "\(directory)/source.bin"
        try writeSource(path: source, size: size)
        let key = "bench/object \(sizeMiB)MiB.bin"
        do { try await s3.createBucket(bucket) } catch let error as AWSError
            where error.code == "BucketAlreadyOwnedByYou" || error.code == "BucketAlreadyExists"
        {}
        print("uploading \(sizeMiB) MiB to \(endpoint)/\(bucket)/\(key) ...")
        try await s3.putObject(bucket: bucket, key: key, fileAt: source)

        var ours: [Double] = []
        var cli: [Double] = []
        for round in 1...rounds {
            let ourFile = "\(directory)/ours.bin"
            let start = ContinuousClock.now
            try await s3.getObject(bucket: bucket, key: key, to: ourFile)
            let ourSeconds = seconds(ContinuousClock.now - start)
            try verify(ourFile, against: source, size: size)
            try FileManager.default.removeItem(atPath: ourFile)
            ours.append(Double(size) / ourSeconds / 1_048_576)

            let cliFile = "\(directory)/cli.bin"
            let cliStart = ContinuousClock.now
            try runCLI(["--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", "s3://\(bucket)/\(key)", cliFile])
            let cliSeconds = seconds(ContinuousClock.now - cliStart)
            try verify(cliFile, against: source, size: size)
            try FileManager.default.removeItem(atPath: cliFile)
            cli.append(Double(size) / cliSeconds / 1_048_576)
            print(
                String(
                    format: "round %d: AWSClients %.2f s (%.1f MiB/s), aws s3 cp %.2f s (%.1f MiB/s)",
                    round, ourSeconds, ours.last!, cliSeconds, cli.last!))
        }
        try await s3.deleteObject(bucket: bucket, key: key)
        let ourMean = ours.reduce(0, +) / Double(ours.count)
        let cliMean = cli.reduce(0, +) / Double(cli.count)
        print(String(format: "AWSClients: %.1f MiB/s (mean of %d)", ourMean, rounds))
        print(String(format: "aws s3 cp:  %.1f MiB/s (mean of %d)", cliMean, rounds))
        print(String(format: "ratio AWSClients / aws s3 cp: %.2f", ourMean / cliMean))
    }

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Writes `size` bytes of cheap pseudo-random data.
    func writeSource(path: String, size: Int64) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var remaining = size
        var block = [UInt64](repeating: 0, count: 1 << 17)  // 1 MiB
        while remaining > 0 {
            for index in block.indices {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                block[index] = state
            }
            let count = Int(min(remaining, 1 << 20))
            try block.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
            remaining -= Int64(count)
        }
    }

    /// Both downloads must be byte-identical to the source (compared in 8 MiB blocks).
    func verify(_ path: String, against source: String, size: Int64) throws {
        let a = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        let b = try FileHandle(forReadingFrom: URL(fileURLWithPath: source))
        defer {
            try? a.close()
            try? b.close()
        }
        var total: Int64 = 0
        while true {
            let x = try a.read(upToCount: 8 << 20) ?? Data()
            let y = try b.read(upToCount: 8 << 20) ?? Data()
            guard x == y else { throw ValidationError("\(path) differs from the source near byte \(total)") }
            if x.isEmpty { break }
            total += Int64(x.count)
        }
        guard total == size else { throw ValidationError("\(path) has \(total) bytes, expected \(size)") }
    }

    func runCLI(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["aws"] + arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("aws \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }
}
