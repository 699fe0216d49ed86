// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "tempscale",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "TempScaleKit", targets: ["TempScaleKit"]),
        .executable(name: "tempscale", targets: ["tempscale"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // ONNX protobuf: generated once into Sources/ONNXProto by scripts/gen-onnx-proto.sh (never in CI); the
        // generated code must match this runtime version exactly.
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        // oneDNN (Debian's libdnnl-dev 2.6, no pkg-config file): the bf16 and int8 matmuls.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // Linear layers at storage precision on oneDNN: weight packing, per-row activation quantisation, dequantisation.
        .target(name: "CGemm", dependencies: ["CDNNL"], cSettings: [.unsafeFlags(["-O3"])],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // Small C kernels with runtime CPU dispatch and portable fallbacks: f16 (F16C), SHA-256 (SHA-NI),
        // GELU and softmax (AVX2 + glibc's vector math).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])], linkerSettings: [.linkedLibrary("mvec")]),
        // onnx.proto (onnx 1.23.2, specs/onnx/) as Swift types.
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(
            name: "TempScaleKit",
            dependencies: ["CBLAS", "CZlib", "CJSONC", "CKernels", "CGemm", "ONNXProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .executableTarget(
            name: "tempscale",
            dependencies: ["TempScaleKit", "CKernels", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TempScaleKitTests", dependencies: ["TempScaleKit", "ONNXProto"]),
    ]
)
