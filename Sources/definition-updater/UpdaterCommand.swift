import ArgumentParser

@main
struct UpdaterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "definition-updater",
        abstract: "Updates the ClamAV database in the definitions bucket with freshclam."
    )
}
