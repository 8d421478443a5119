# fixalloc_pc.cmake - writes fixalloc.pc at install time, with the prefix
# the install uses (CMAKE_INSTALL_PREFIX as `cmake --install --prefix`
# sets it), so the file is right for any prefix. Called from the
# install(CODE) of the top-level CMakeLists.txt with FIXALLOC_PC_IN,
# FIXALLOC_PC_OUT, FIXALLOC_PC_LIBDIR, FIXALLOC_PC_INCLUDEDIR and
# FIXALLOC_PC_VERSION set.
set(prefix "${CMAKE_INSTALL_PREFIX}")
foreach(kind LIBDIR INCLUDEDIR)
  set(dir "${FIXALLOC_PC_${kind}}")
  if(IS_ABSOLUTE "${dir}")
    # An absolute directory under the prefix is written relative to it.
    string(FIND "${dir}/" "${prefix}/" at)
    if(at EQUAL 0)
      file(RELATIVE_PATH dir "${prefix}" "${dir}")
      set(dir "\${prefix}/${dir}")
    endif()
  else()
    set(dir "\${prefix}/${dir}")
  endif()
  set(FIXALLOC_PC_${kind}_VALUE "${dir}")
endforeach()
configure_file("${FIXALLOC_PC_IN}" "${FIXALLOC_PC_OUT}" @ONLY)
