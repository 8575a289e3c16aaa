#include "greet.h"

int main(void) {
    greet("taskrun");
    return 0;
}
