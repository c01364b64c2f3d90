// Composition root (being filled in): parses the command line and runs a subcommand.
int main() { return 0; }
