import Channel
import Testing

@Suite struct HeaderListLimitTests {
    @Test func countsNameValueAndThirtyTwoBytesPerField() {
        var limit = HeaderListLimit(maxBytes: 100, maxFields: 10)
        do { let ok = limit.admit(nameCount: 10, valueCount: 20); #expect(ok) }  // 62
        #expect(limit.bytes == 62 && limit.fields == 1)
        do { let ok = limit.admit(nameCount: 3, valueCount: 3); #expect(ok) }  // 100: at the limit is fine
        #expect(!limit.isExceeded)
        do { let ok = limit.admit(nameCount: 0, valueCount: 0); #expect(!ok) }  // 132
        #expect(limit.isExceeded)
        do { let ok = limit.admit(nameCount: 0, valueCount: 0); #expect(!ok) }  // stays over
        #expect(limit.description == "a header list of 164 bytes or more, more than the limit of 100")
    }

    @Test func boundsTheFieldCount() {
        var limit = HeaderListLimit(maxBytes: 1 << 20, maxFields: 2)
        do { let ok = limit.admit(nameCount: 1, valueCount: 1); #expect(ok) }
        do { let ok = limit.admit(nameCount: 1, valueCount: 1); #expect(ok) }
        do { let ok = limit.admit(nameCount: 1, valueCount: 1); #expect(!ok) }
        #expect(limit.description == "3 header fields, more than the limit of 2")
        limit.reset()
        #expect(!limit.isExceeded && limit.bytes == 0 && limit.fields == 0)
    }

    @Test func defaultsAreNghttpxAndEnvoys() {
        let limit = HeaderListLimit()
        #expect(limit.maxBytes == 65_536 && limit.maxFields == 100)
    }
}
