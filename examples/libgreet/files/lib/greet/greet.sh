# greet NAME: print a greeting for NAME.
greet() {
    printf 'Hello, %s! (libgreet 2.1.0)\n' "$1"
}
