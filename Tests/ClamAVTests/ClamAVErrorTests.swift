import CClamAV
import Testing

@testable import ClamAV

@Test func libclamavCodesBecomeErrorsNamingTheContext() throws {
    #expect(throws: Never.self) { try ClamAVError.check(CL_SUCCESS, .scan, "scan /x") }
    let error = #expect(throws: ClamAVError.self) { try ClamAVError.check(CL_EOPEN, .fileAccess, "open /missing") }
    #expect(error?.kind == .fileAccess)
    #expect(error?.message.hasPrefix("open /missing: ") == true)
}
