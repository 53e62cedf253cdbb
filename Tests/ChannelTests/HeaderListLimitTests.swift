import Channel
import Testing

@Suite struct HeaderListLimitTests {
    @Test func countsNameValueAndThirtyTwoBytesPerField() {
        var limit = HeaderListLimit(maxBytes: 100, maxFields: 10)
        #expect(limit.admit(nameCount: 10, valueCount: 20))  // 62
        #expect(limit.bytes == 62 && limit.fields == 1)
        #expect(limit.admit(nameCount: 3, valueCount: 3))  // 100: at the limit is fine
        #expect(!limit.isExceeded)
        #expect(!limit.admit(nameCount: 0, valueCount: 0))  // 132
        #expect(limit.isExceeded)
        #expect(!limit.admit(nameCount: 0, valueCount: 0))  // stays over
        #expect(limit.description == "a header list of 164 bytes or more, more than the limit of 100")
    }

    @Test func boundsTheFieldCount() {
        var limit = HeaderListLimit(maxBytes: 1 << 20, maxFields: 2)
        #expect(limit.admit(nameCount: 1, valueCount: 1))
        #expect(limit.admit(nameCount: 1, valueCount: 1))
        #expect(!limit.admit(nameCount: 1, valueCount: 1))
        #expect(limit.description == "3 header fields, more than the limit of 2")
        limit.reset()
        #expect(!limit.isExceeded && limit.bytes == 0 && limit.fields == 0)
    }

    @Test func defaultsAreNghttpxAndEnvoys() {
        let limit = HeaderListLimit()
        #expect(limit.maxBytes == 65_536 && limit.maxFields == 100)
    }
}
