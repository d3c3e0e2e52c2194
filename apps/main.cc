#include <cstdio>
int main() { std::puts("fedrec skeleton"); return 0; }
