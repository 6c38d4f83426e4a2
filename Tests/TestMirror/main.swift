import ArgumentParser
import Foundation
import TestSupport

/// The test mirror as a process, for tests outside Swift (the container image test).
@main
struct TestMirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-mirror",
        abstract: "Serve a folder as a ClamAV database mirror on 127.0.0.1 (see MirrorServer for /control).",
        discussion: "Prints the port on the first line of standard output, then serves until SIGTERM or SIGINT."
    )

    @Option(help: ArgumentHelp("The folder whose files are served.", valueName: "DIR"))
    var root: String

    @Option(help: "The port; 0 picks a free one.")
    var port: Int = 0

    func run() async throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--root \(root) is not a directory")
        }
        let server = try await MirrorServer.start(root: root, port: port)
        FileHandle.standardOutput.write(Data("\(server.port)\n".utf8))
        // A child started by Foundation's Process inherits blocked signals; unblock the two
        // that stop the mirror, and wait for one of them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        var received: Int32 = 0
        sigwait(&signals, &received)
        try await server.shutdown()
    }
}
