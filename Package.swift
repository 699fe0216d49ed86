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
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        // Small C kernels with runtime CPU dispatch and portable fallbacks: f16 (F16C), SHA-256 (SHA-NI),
        // GELU and softmax (AVX2 + glibc's vector math).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])], linkerSettings: [.linkedLibrary("mvec")]),
        .target(
            name: "TempScaleKit",
            dependencies: ["CBLAS", "CZlib", "CJSONC", "CKernels"]
        ),
        .executableTarget(
            name: "tempscale",
            dependencies: ["TempScaleKit", "CKernels", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TempScaleKitTests", dependencies: ["TempScaleKit"]),
    ]
)
