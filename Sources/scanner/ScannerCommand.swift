import ArgumentParser

@main
struct ScannerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scanner",
        abstract: "Scans S3 objects and local files for malware with an in-process ClamAV engine.",
        subcommands: [ScanCommand.self]
    )
}
