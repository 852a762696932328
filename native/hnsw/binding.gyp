{
  "targets": [
    {
      "target_name": "engram_hnsw",
      "sources": ["engram_hnsw.cc"],
      "include_dirs": ["../common", "third_party"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wno-type-limits", "-Wno-unused-function"]
    }
  ]
}
