import ArgumentParser
import TempScaleKit

/// `--precision f32|bf16|int8`, as every command that runs the encoder takes it.
struct PrecisionOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Linear layers' arithmetic: f32, bf16 or int8 (default: the file's storage: f32, f16 → f32; bf16 → bf16; q8 → int8).",
        discussion: "A CPU without AVX-512 BF16 (bf16) or VNNI (int8) runs f32 and says so on stderr."))
    var precision: Precision?

    /// Encoder options with this precision (the fallback note, if any, is printed by `announcePrecision`).
    func options(batchSize: Int = 32, threads: Int) -> Encoder.Options {
        .init(batchSize: batchSize, threads: threads, precision: precision)
    }
}

extension Precision: ExpressibleByArgument {}

/// Prints why the encoder runs at another precision than asked (each command builds one encoder).
func announcePrecision(_ encoder: Encoder) {
    if let note = encoder.precisionNote { writeStderr("tempscale: \(note)\n") }
}
