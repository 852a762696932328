{
  "targets": [
    {
      "target_name": "engram_timer",
      "sources": ["engram_timer.cc"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O2", "-std=c++17"]
    }
  ]
}
