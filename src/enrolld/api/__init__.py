"""The local HTTP API: Huawei FRS v2 and AccuAuth faceset v2 dialects over one store."""
