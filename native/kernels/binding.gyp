{
  "targets": [
    {
      "target_name": "engram_kernels",
      "sources": ["engram_kernels.cc"],
      "include_dirs": ["../common"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-fast-math"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-fast-math"]
      }
    }
  ]
}
