import Glibc

/// A log-linear histogram of latencies in microseconds, laid out as HdrHistogram's with 2
/// significant digits: values below 256 µs have their own bucket (1 µs resolution); above, each
/// power of two is split into 128 buckets, so a bucket is at most 1/128 (< 0.8 %) of its value
/// wide. Values up to 2^40 µs (12 days); larger ones count in the last bucket.
///
/// Fixed size (4352 counters), allocated once; recording is an index computation and an add.
/// Two histograms merge by adding their counters: each worker keeps its own, merged at the end.
public struct LatencyHistogram: Sendable {
    static let subBucketHalfBits = 7
    static let subBucketHalf = 1 << subBucketHalfBits      // 128
    static let subBucketCount = subBucketHalf << 1         // 256
    static let maxValue: UInt64 = (1 << 40) - 1
    static let bucketCount = (40 - subBucketHalfBits - 1) * subBucketHalf + subBucketCount

    public private(set) var counts: [UInt64]
    public private(set) var totalCount: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    /// Sum of the recorded values (for the mean).
    public private(set) var sum: UInt64 = 0

    public init() {
        counts = [UInt64](repeating: 0, count: LatencyHistogram.bucketCount)
    }

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        if value < UInt64(subBucketCount) { return Int(value) }
        let msb = 63 - value.leadingZeroBitCount
        let shift = msb - subBucketHalfBits
        return shift * subBucketHalf + Int(value >> UInt64(shift))
    }

    /// The smallest and largest value that count in bucket `index`.
    static func range(of index: Int) -> (low: UInt64, high: UInt64) {
        if index < subBucketCount { return (UInt64(index), UInt64(index)) }
        let shift = index / subBucketHalf - 1
        let sub = UInt64(index - shift * subBucketHalf)
        return (sub << UInt64(shift), ((sub + 1) << UInt64(shift)) - 1)
    }

    @inline(__always)
    public mutating func record(_ micros: UInt64) {
        let v = micros > LatencyHistogram.maxValue ? LatencyHistogram.maxValue : micros
        counts[LatencyHistogram.index(of: v)] &+= 1
        totalCount &+= 1
        sum &+= v
        if v < min { min = v }
        if v > max { max = v }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        guard other.totalCount > 0 else { return }
        for i in 0 ..< counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        totalCount &+= other.totalCount
        sum &+= other.sum
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
    }

    public var mean: Double { totalCount == 0 ? 0 : Double(sum) / Double(totalCount) }

    /// The value at `percentile` (0...100): the highest value of the bucket holding the
    /// ceil(p × count)-th smallest recording (never above the largest recorded), 0 when empty.
    public func value(atPercentile percentile: Double) -> UInt64 {
        guard totalCount > 0 else { return 0 }
        if percentile >= 100 { return max }
        let target = Swift.max(1, UInt64((percentile / 100 * Double(totalCount)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0 ..< counts.count where counts[i] != 0 {
            seen &+= counts[i]
            if seen >= target { return Swift.min(LatencyHistogram.range(of: i).high, max) }
        }
        return max
    }

    /// Non-empty buckets in order: (lowest value, highest value, count).
    public var buckets: [(low: UInt64, high: UInt64, count: UInt64)] {
        var out: [(low: UInt64, high: UInt64, count: UInt64)] = []
        for i in 0 ..< counts.count where counts[i] != 0 {
            let r = LatencyHistogram.range(of: i)
            out.append((r.low, r.high, counts[i]))
        }
        return out
    }

    /// HdrHistogram's percentile distribution: points at 1 − 1/2^(k/4) (denser towards the tail)
    /// up to the last recording, for plotting on a "1/(1−p)" axis.
    public var percentileSpectrum: [(percentile: Double, micros: UInt64)] {
        guard totalCount > 0 else { return [] }
        var out: [(percentile: Double, micros: UInt64)] = []
        var k = 0.0
        while true {
            let p = 100 * (1 - 1 / pow(2, k / 4))
            // Stop once a single recording is more than the remaining fraction.
            if (100 - p) / 100 * Double(totalCount) < 1 { break }
            out.append((p, value(atPercentile: p)))
            k += 1
        }
        out.append((100, max))
        return out
    }
}
