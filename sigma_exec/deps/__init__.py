"""Project dependencies: read from manifests (pure), fetched on the host by the ordinary clients
without running project code, installed offline in a build sandbox into a cached image layer."""
